// `stepvideo status`: the state of every run (shard) in an output directory,
// read from its plan, journal, summary and lock without touching a live run.
// The exit code says how the runs stand, so scripts need not parse text.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sv::jobs {

enum class RunState {
  Running,        // the lock's holder is alive
  Complete,       // ended, every item done
  CompleteWithFailures,
  Preempted,      // ended by a stop signal, state saved: run again
  Failed,         // ended by an error (recorded in the journal)
  Crashed,        // no clean end: killed, or the lock left by a dead process
};

struct ShardStatus {
  std::string manifest, shard_suffix;
  int64_t total = 0, done = 0, failed = 0, bad_lines = 0, pending = 0, suspended = 0;
  RunState state = RunState::Crashed;
  std::string reason;  // why it stopped, in words (the error, the signal, the crash)
  struct FailedItem {
    std::string id, reason;
    int64_t line = 0;
  };
  std::vector<FailedItem> failed_items;
};

std::vector<ShardStatus> read_run_status(const std::filesystem::path& out);

// The exit code of `status` for these runs (the worst shard decides):
// 0 complete or running, 9 complete with failures, 75 preempted,
// 1 failed or crashed (README "Exit codes").
int status_exit_code(const std::vector<ShardStatus>& shards);

std::string format_status(const std::vector<ShardStatus>& shards);
nlohmann::ordered_json status_json(const std::vector<ShardStatus>& shards);

}  // namespace sv::jobs
