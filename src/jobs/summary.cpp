#include "jobs/summary.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "core/error.h"
#include "jobs/run_lock.h"

namespace sv::jobs {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

ordered_json build_summary(const RunDescription& run, const std::vector<JobItem>& items,
                           const std::vector<BadLine>& bad_lines, const JournalState& journal,
                           const RunStats& stats, double wall_seconds, const std::string& status, int exit_code) {
  ordered_json s;
  s["status"] = status;
  s["exit_code"] = exit_code;
  s["finished_at"] = utc_now();
  s["manifest"] = run.manifest;
  if (run.shard.count > 1) s["shard"] = fmt::format("{}/{}", run.shard.index, run.shard.count);
  s["layout"] = run.layout;
  s["world_size"] = run.world_size;
  s["replicas"] = run.replicas;

  int64_t done = 0, failed = 0, pending = 0, suspended = 0;
  std::set<std::string> suspended_ids;
  for (const json& r : journal.suspended) {
    for (const json& i : r["batch"]["items"]) suspended_ids.insert(i["id"].get<std::string>());
  }
  ordered_json per_item = ordered_json::array();
  for (const JobItem& item : items) {
    ordered_json e;
    e["id"] = item.id;
    e["line"] = item.line;
    if (const auto it = journal.finished.find(item.id); it != journal.finished.end()) {
      e["status"] = "done";
      e["video"] = it->second.value("video", "");
      ++done;
    } else if (const auto f = journal.failed.find(item.id); f != journal.failed.end()) {
      e["status"] = "failed";
      e["reason"] = f->second.value("reason", "");
      ++failed;
    } else if (suspended_ids.count(item.id)) {
      e["status"] = "suspended";  // saved mid-trajectory; the next run continues it
      ++suspended;
    } else {
      e["status"] = "pending";
      ++pending;
    }
    per_item.push_back(e);
  }
  for (const BadLine& b : bad_lines) {
    per_item.push_back({{"line", b.line}, {"status", "bad_line"}, {"reason", b.reason}});
  }

  ordered_json counts;
  counts["total"] = static_cast<int64_t>(items.size() + bad_lines.size());
  counts["done"] = done;
  counts["failed"] = failed;
  counts["bad_lines"] = static_cast<int64_t>(bad_lines.size());
  counts["pending"] = pending;
  counts["suspended"] = suspended;
  counts["done_this_run"] = stats.done;
  counts["failed_this_run"] = stats.failed;
  counts["resumed"] = stats.resumed_done;  // finished by earlier runs, skipped
  counts["continued_from_saved_state"] = stats.continued;
  s["counts"] = counts;

  ordered_json time;
  time["wall_s"] = wall_seconds;
  ordered_json stages;
  for (const auto& [stage, sec] : stats.stage_seconds) stages[stage] = sec;
  time["stage_s"] = stages;
  s["time"] = time;
  const double hours = wall_seconds / 3600.0;
  s["videos_per_hour_per_replica"] =
      hours > 0 ? static_cast<double>(stats.done) / hours / std::max(1, run.replicas) : 0.0;
  ordered_json replicas = ordered_json::array();
  for (int r = 0; r < run.replicas; ++r) {
    const int64_t n = stats.done_by_replica.count(r) ? stats.done_by_replica.at(r) : 0;
    const double busy = stats.seconds_by_replica.count(r) ? stats.seconds_by_replica.at(r) : 0.0;
    replicas.push_back({{"replica", r}, {"done", n}, {"busy_s", busy},
                        {"videos_per_hour", hours > 0 ? static_cast<double>(n) / hours : 0.0}});
  }
  s["per_replica"] = replicas;
  s["items"] = per_item;
  return s;
}

std::string format_summary(const ordered_json& s) {
  const ordered_json& c = s["counts"];
  std::string out = fmt::format("\nrun {}: {} ({} replica(s), layout {}, {} rank(s))\n", s.value("status", ""),
                                s.value("manifest", ""), s.value("replicas", 1), s.value("layout", ""),
                                s.value("world_size", 1));
  out += fmt::format("  {:<28}{:>8}\n", "items", c["total"].get<int64_t>());
  for (const char* k : {"done", "failed", "bad_lines", "pending", "suspended", "done_this_run", "resumed",
                        "continued_from_saved_state"}) {
    out += fmt::format("  {:<28}{:>8}\n", k, c[k].get<int64_t>());
  }
  out += fmt::format("  {:<28}{:>8.1f}\n", "wall time (s)", s["time"]["wall_s"].get<double>());
  for (const auto& [stage, sec] : s["time"]["stage_s"].items()) {
    out += fmt::format("  {:<28}{:>8.1f}\n", "  " + stage + " (sum)", sec.get<double>());
  }
  out += fmt::format("  {:<28}{:>8.1f}\n", "videos/hour/replica", s["videos_per_hour_per_replica"].get<double>());
  for (const auto& r : s["per_replica"]) {
    out += fmt::format("  replica {:<20}{:>8} done, {:.1f} s busy\n", r["replica"].get<int>(),
                       r["done"].get<int64_t>(), r["busy_s"].get<double>());
  }
  for (const auto& i : s["items"]) {
    const std::string st = i["status"];
    if (st == "failed" || st == "bad_line") {
      out += fmt::format("  {} line {}{}: {}\n", st == "failed" ? "FAILED" : "BAD LINE", i["line"].get<int64_t>(),
                         i.contains("id") ? " (" + i["id"].get<std::string>() + ")" : "",
                         i.value("reason", ""));
    }
  }
  return out;
}

}  // namespace sv::jobs
