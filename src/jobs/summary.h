// The end of a run: summary.json (counts, per-item status, time per stage,
// throughput) and the table printed for the user.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/coordinator.h"
#include "jobs/manifest.h"
#include "jobs/run_files.h"

namespace sv::jobs {

struct RunDescription {
  std::string manifest, layout;
  int world_size = 1, replicas = 1;
  Shard shard;
};

// `items`/`bad_lines`: this run's share of the manifest; `journal` replayed
// at the end (earlier runs included).
nlohmann::ordered_json build_summary(const RunDescription& run, const std::vector<JobItem>& items,
                                     const std::vector<BadLine>& bad_lines, const JournalState& journal,
                                     const RunStats& stats, double wall_seconds, const std::string& status,
                                     int exit_code);

// Human-readable table of a summary, for stdout.
std::string format_summary(const nlohmann::ordered_json& summary);

}  // namespace sv::jobs
