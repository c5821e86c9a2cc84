// The run's journal: an append-only JSONL file in the output directory, one
// fsync'd record per event (item done, item failed, batch suspended for
// preemption, run started/stopped). It is the source of truth for resuming:
// a restarted job (Slurm requeue) replays it and skips finished items.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sv::jobs {

class Journal {
 public:
  // Opens for appending, creating the file. A last line torn by a crash in
  // the middle of an append (no newline) is cut off first: that record never
  // counted, so its item simply runs again.
  explicit Journal(std::filesystem::path path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Writes one record and fsyncs; InputError (disk full, ...) when it cannot.
  void append(const nlohmann::json& record);
  const std::filesystem::path& path() const { return path_; }

  // Every complete record of a journal file (none when it does not exist).
  // Lines that are not JSON objects (a torn tail) are skipped.
  static std::vector<nlohmann::json> read(const std::filesystem::path& path);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// What the journal says, replayed in order.
struct JournalState {
  std::map<std::string, nlohmann::json> finished;  // id -> last "done" record
  std::map<std::string, nlohmann::json> failed;    // id -> last "failed" record (not done since)
  // "suspended" records whose items have not finished since: a preempted
  // batch to continue from its saved state.
  std::vector<nlohmann::json> suspended;
  int64_t starts = 0;  // runs that wrote to this journal
};

JournalState replay(const std::vector<nlohmann::json>& records);

// Current time as ISO 8601 UTC, for records and summaries.
std::string utc_now();

}  // namespace sv::jobs
