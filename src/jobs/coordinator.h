// The coordinator: owns the plan and the journal, hands batches to replicas
// when they ask (replicas pull, so a slow one never holds up the others),
// records every finished item and prints progress. Thread-safe: rank 0's own
// worker calls it directly while the dispatch thread serves remote replicas.
// It never sees latents or frames: replica leaders write their own outputs.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "jobs/journal.h"
#include "jobs/planner.h"

namespace sv::jobs {

// Per-replica and per-stage accounting for progress lines and the summary.
struct RunStats {
  int64_t total = 0;          // items in the run (after --shard), bad lines included
  int64_t resumed_done = 0;   // finished by an earlier run, skipped
  int64_t bad_lines = 0;
  int64_t done = 0, failed = 0;  // this run
  int64_t continued = 0;      // items continued from a saved mid-trajectory state
  int64_t suspended = 0;      // items saved for the next run (preemption)
  int64_t earlier_failed = 0; // failed in an earlier run and not retried
  std::map<int, int64_t> done_by_replica;
  std::map<int, double> seconds_by_replica;
  std::map<std::string, double> stage_seconds;  // summed over items
  std::map<std::string, nlohmann::json> items;  // id -> status record (this run or earlier)
};

class Coordinator {
 public:
  // `plan` holds the batches still to run; `stats` arrives with the totals and
  // the earlier runs' records filled in.
  Coordinator(Journal& journal, std::filesystem::path out_dir, std::vector<Batch> plan, RunStats stats);

  // The next batch for `replica`, or nothing when there is no more work or the
  // run is stopping.
  std::optional<Batch> next_batch(int replica);
  // A "done" or "failed" item record from a replica leader.
  void item_finished(nlohmann::json record);
  // A "suspended" record: the batch's state was saved for the next run.
  void batch_suspended(nlohmann::json record);

  bool has_work() const;
  void request_stop(const std::string& why);
  bool stopping() const;
  // Writes keep failing for lack of space: no more batches are handed out
  // (those in flight finish), and the run ends with an error.
  bool storage_full() const;
  // An error the dispatch thread hit (journal unwritable): workers rethrow it.
  void set_fatal(std::exception_ptr error);
  std::exception_ptr fatal() const;

  RunStats stats() const;
  double elapsed_seconds() const;

 private:
  void progress_line(const nlohmann::json& record);
  void retire_state(const std::string& id);

  mutable std::mutex mutex_;
  Journal& journal_;
  std::filesystem::path out_dir_;
  std::deque<Batch> queue_;
  RunStats stats_;
  bool stopping_ = false;
  int consecutive_no_space_ = 0;
  bool storage_full_ = false;
  std::exception_ptr fatal_;
  std::map<std::string, std::set<std::string>> states_outstanding_;  // state file -> unfinished ids
  std::map<std::string, std::string> state_of_item_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace sv::jobs
