#include "jobs/run_setup.h"

#include <unistd.h>

#include <fstream>
#include <map>
#include <set>

#include "core/log.h"
#include "stages/write_stage.h"

namespace sv::jobs {

namespace fs = std::filesystem;
using nlohmann::json;

RunSetup open_run(const fs::path& out, const Shard& shard, const fs::path& manifest_path,
                         const ItemDefaults& defaults, int64_t batch_size, bool retry_failed,
                         io::VideoCodec codec, const std::string& layout) {
  RunSetup side;
  side.files = RunFiles{out, shard};
  std::error_code ec;
  fs::create_directories(out, ec);
  SV_CHECK_AS(InputError, fs::is_directory(out) && ::access(out.c_str(), W_OK) == 0,
              "{}: cannot create or write the output directory", out.string());
  side.lock = std::make_unique<RunLock>(side.files.lock());

  Manifest all = read_manifest(manifest_path, defaults);
  side.manifest.path = all.path;
  side.manifest.sha256 = all.sha256;
  for (auto& item : all.items) {
    if (shard.contains(item.line)) side.manifest.items.push_back(std::move(item));
  }
  for (auto& bad : all.bad_lines) {
    if (shard.contains(bad.line)) side.manifest.bad_lines.push_back(std::move(bad));
  }
  for (const BadLine& b : side.manifest.bad_lines) {
    log_warn("{}:{}: bad line: {}", manifest_path.string(), b.line, b.reason);
  }

  // Half-written files of a killed run: only ours (other shards may be live).
  std::set<std::string> ours{side.files.summary().filename().string(), side.files.plan().filename().string()};
  const std::string ext = codec == io::VideoCodec::FFV1 ? ".mkv" : ".mp4";
  for (const JobItem& i : side.manifest.items) {
    for (const char* e : {".json", ".latents.h5", ".h5"}) ours.insert(i.id + e);
    ours.insert(i.id + ext);
  }
  if (const int64_t n = remove_temporaries(out, ours)) {
    log_info("removed {} half-written file(s) left by an interrupted run", n);
  }

  // Replay the journal: skip what is finished, continue what was suspended.
  const JournalState state = replay(Journal::read(side.files.journal()));
  std::set<std::string> in_suspended;
  std::vector<Batch> plan;
  RunStats stats;
  std::map<std::string, const JobItem*> by_id;
  for (const JobItem& i : side.manifest.items) by_id[i.id] = &i;
  for (const json& r : state.suspended) {
    Batch b = r.at("batch").get<Batch>();
    bool usable = fs::exists(out / b.state);
    for (const JobItem& i : b.items) usable = usable && by_id.count(i.id);
    if (!usable) {
      log_warn("{}: the saved state of a preempted batch is missing or its items left the manifest; "
               "those items start over", b.state);
      continue;
    }
    b.index = static_cast<int64_t>(plan.size());
    for (const JobItem& i : b.items) in_suspended.insert(i.id);
    plan.push_back(std::move(b));
  }
  // Saved states nobody will continue (their items finished, or a crash
  // between the record and the cleanup) are spent.
  std::set<std::string> live_states;
  for (const Batch& b : plan) live_states.insert(fs::path(b.state).filename().string());
  if (fs::is_directory(side.files.partial_dir())) {
    for (const auto& e : fs::directory_iterator(side.files.partial_dir())) {
      const std::string name = e.path().filename().string();
      const std::string id = name.size() > 3 ? name.substr(0, name.size() - 3) : "";
      if (by_id.count(id) && !live_states.count(name)) fs::remove(e.path(), ec);
    }
  }
  std::vector<JobItem> fresh;
  for (const JobItem& i : side.manifest.items) {
    if (state.finished.count(i.id)) {
      ++stats.resumed_done;
    } else if (state.failed.count(i.id) && !retry_failed) {
      ++stats.earlier_failed;
    } else if (!in_suspended.count(i.id)) {
      fresh.push_back(i);
    }
  }
  std::vector<Batch> rest = plan_batches(fresh, batch_size, static_cast<int64_t>(plan.size()));
  plan.insert(plan.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
  stats.total = static_cast<int64_t>(side.manifest.items.size() + side.manifest.bad_lines.size());
  stats.bad_lines = static_cast<int64_t>(side.manifest.bad_lines.size());

  // The run's description, for `stepvideo status`.
  json plan_json{{"manifest", fs::absolute(manifest_path).string()}, {"manifest_sha256", all.sha256},
                 {"shard_suffix", shard.suffix()}, {"layout", layout}, {"ids", json::array()},
                 {"bad_lines", json::array()}};
  for (const JobItem& i : side.manifest.items) plan_json["ids"].push_back(i.id);
  for (const BadLine& b : side.manifest.bad_lines) {
    plan_json["bad_lines"].push_back({{"line", b.line}, {"reason", b.reason}});
  }
  if (fs::exists(side.files.plan())) {
    std::ifstream in(side.files.plan());
    const json earlier = json::parse(in, nullptr, false);
    if (earlier.is_object() && earlier.value("manifest_sha256", "") != all.sha256) {
      log_warn("{}: the manifest changed since the last run in this directory; items are matched by id",
               manifest_path.string());
    }
  }
  write_json_atomic(side.files.plan(), plan_json);

  side.journal = std::make_unique<Journal>(side.files.journal());
  side.journal->append(json{{"event", "start"}, {"time", utc_now()}, {"pid", ::getpid()},
                            {"layout", layout}, {"planned_items", static_cast<int64_t>(fresh.size())},
                            {"continued_batches", static_cast<int64_t>(state.suspended.size())},
                            {"resumed_done", stats.resumed_done}});
  log_info("run: {} item(s) in {} ({} bad line(s)); {} already done, {} failed earlier{}, {} batch(es) to run "
           "({} continued mid-trajectory)",
           side.manifest.items.size(), manifest_path.string(), stats.bad_lines, stats.resumed_done,
           stats.earlier_failed, stats.earlier_failed ? " (--retry-failed re-runs them)" : "", plan.size(),
           plan.size() - rest.size());
  side.coordinator = std::make_unique<Coordinator>(*side.journal, out, std::move(plan), std::move(stats));
  return side;
}

}  // namespace sv::jobs
