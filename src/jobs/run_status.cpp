#include "jobs/run_status.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "core/error.h"
#include "io/json_file.h"
#include "jobs/journal.h"
#include "jobs/run_lock.h"

namespace sv::jobs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* state_name(RunState s) {
  switch (s) {
    case RunState::Running: return "running";
    case RunState::Complete: return "complete";
    case RunState::CompleteWithFailures: return "complete with failures";
    case RunState::Preempted: return "preempted";
    case RunState::Failed: return "failed";
    case RunState::Crashed: return "crashed";
  }
  return "?";
}

// How the last run on this journal ended, from its last start/stop records.
void classify_end(ShardStatus& s, const std::vector<json>& records, const fs::path& lock) {
  const json* last_start = nullptr;
  const json* last_stop = nullptr;
  for (const json& r : records) {
    const std::string e = r.value("event", "");
    if (e == "start") last_start = &r, last_stop = nullptr;
    if (e == "stop") last_stop = &r;
  }
  if (fs::exists(lock)) {
    if (RunLock::holder_alive(lock)) {
      s.state = RunState::Running;
      s.reason = "running on " + RunLock::holder(lock);
      return;
    }
    s.state = RunState::Crashed;
    s.reason = "the run was killed or crashed (" + RunLock::holder(lock) + " is gone; its lock was left): run it again to resume";
    return;
  }
  if (!last_stop) {
    s.state = RunState::Crashed;
    s.reason = last_start ? "the run ended without a stop record (killed?): run it again to resume"
                          : "the run never started";
    return;
  }
  const std::string status = last_stop->value("status", "");
  const std::string why = last_stop->value("reason", "");
  if (status == "complete") {
    s.state = RunState::Complete;
  } else if (status == "complete with failures") {
    s.state = RunState::CompleteWithFailures;
  } else if (status == "preempted") {
    s.state = RunState::Preempted;
    s.reason = "preempted" + (why.empty() ? std::string() : " (" + why + ")") + ": run the same command again to continue";
  } else {
    s.state = RunState::Failed;
    s.reason = status + (why.empty() ? std::string() : ": " + why);
  }
}

}  // namespace

std::vector<ShardStatus> read_run_status(const fs::path& out) {
  SV_CHECK_AS(InputError, fs::is_directory(out), "{}: output directory does not exist", out.string());
  std::vector<fs::path> plans;
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string n = e.path().filename().string();
    if (n == "run.json" || (n.starts_with("run.shard-") && n.ends_with(".json"))) plans.push_back(e.path());
  }
  std::sort(plans.begin(), plans.end());
  SV_CHECK_AS(InputError, !plans.empty(), "{}: no stepvideo run here (no run.json)", out.string());
  std::vector<ShardStatus> shards;
  for (const fs::path& plan_path : plans) {
    const json plan = io::read_json_or_null(plan_path);
    SV_CHECK_AS(InputError, plan.is_object(), "{}: unreadable run description", plan_path.string());
    ShardStatus s;
    s.manifest = plan.value("manifest", "?");
    s.shard_suffix = plan.value("shard_suffix", "");
    const std::vector<json> records = Journal::read(out / ("journal" + s.shard_suffix + ".jsonl"));
    const JournalState st = replay(records);
    std::set<std::string> suspended_ids;
    for (const json& r : st.suspended) {
      for (const json& i : r["batch"]["items"]) suspended_ids.insert(i["id"].get<std::string>());
    }
    const auto ids = plan.value("ids", std::vector<std::string>{});
    for (const std::string& id : ids) {
      if (st.finished.count(id)) {
        ++s.done;
      } else if (const auto f = st.failed.find(id); f != st.failed.end()) {
        ++s.failed;
        s.failed_items.push_back({id, f->second.value("reason", ""), f->second.value("line", int64_t{0})});
      } else if (suspended_ids.count(id)) {
        ++s.suspended;
      }
    }
    s.bad_lines = static_cast<int64_t>(plan.value("bad_lines", json::array()).size());
    s.total = static_cast<int64_t>(ids.size()) + s.bad_lines;
    s.pending = static_cast<int64_t>(ids.size()) - s.done - s.failed - s.suspended;
    classify_end(s, records, out / ("run" + s.shard_suffix + ".lock"));
    shards.push_back(std::move(s));
  }
  return shards;
}

int status_exit_code(const std::vector<ShardStatus>& shards) {
  int code = 0;
  auto rank = [](int c) { return c == 1 ? 4 : c == 75 ? 3 : c == 9 ? 2 : 0; };
  for (const ShardStatus& s : shards) {
    int c = 0;
    switch (s.state) {
      case RunState::Running: c = 0; break;
      case RunState::Complete: c = s.bad_lines > 0 ? 9 : 0; break;
      case RunState::CompleteWithFailures: c = 9; break;
      case RunState::Preempted: c = 75; break;
      case RunState::Failed:
      case RunState::Crashed: c = 1; break;
    }
    if (rank(c) > rank(code)) code = c;
  }
  return code;
}

std::string format_status(const std::vector<ShardStatus>& shards) {
  std::string text;
  int64_t all_total = 0, all_done = 0;
  for (const ShardStatus& s : shards) {
    text += fmt::format("{}{}: {}/{} done, {} failed, {} bad lines, {} pending, {} suspended (saved mid-run); {}{}\n",
                        s.manifest, s.shard_suffix.empty() ? "" : " [" + s.shard_suffix.substr(1) + "]", s.done,
                        s.total, s.failed, s.bad_lines, s.pending, s.suspended,
                        s.state == RunState::Running ? "" : std::string("ended: ") + state_name(s.state),
                        s.reason.empty() ? "" : (s.state == RunState::Running ? "" : " - ") + s.reason);
    for (const auto& f : s.failed_items) text += fmt::format("  failed {} (line {}): {}\n", f.id, f.line, f.reason);
    all_total += s.total;
    all_done += s.done;
  }
  if (shards.size() > 1) text += fmt::format("all shards: {}/{} done\n", all_done, all_total);
  return text;
}

nlohmann::ordered_json status_json(const std::vector<ShardStatus>& shards) {
  nlohmann::ordered_json out;
  out["exit_code"] = status_exit_code(shards);
  out["runs"] = nlohmann::ordered_json::array();
  for (const ShardStatus& s : shards) {
    nlohmann::ordered_json r;
    r["manifest"] = s.manifest;
    r["shard"] = s.shard_suffix.empty() ? "" : s.shard_suffix.substr(1);
    r["state"] = state_name(s.state);
    r["reason"] = s.reason;
    for (const auto& [key, value] : {std::pair{"total", s.total}, {"done", s.done}, {"failed", s.failed},
                                     {"bad_lines", s.bad_lines}, {"pending", s.pending}, {"suspended", s.suspended}}) {
      r[key] = value;
    }
    r["failed_items"] = nlohmann::ordered_json::array();
    for (const auto& f : s.failed_items) r["failed_items"].push_back({{"id", f.id}, {"line", f.line}, {"reason", f.reason}});
    out["runs"].push_back(r);
  }
  return out;
}

}  // namespace sv::jobs
