// Where a run keeps its state in the output directory. A sharded run
// (--shard K/N, one job-array task) has its own journal, summary, plan and
// lock beside the others, so N tasks share one output tree.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

namespace sv::jobs {

struct Shard {
  int64_t index = 0, count = 1;
  static Shard parse(const std::string& text);  // "K/N", 0 <= K < N; ConfigError otherwise
  bool contains(int64_t manifest_line) const { return (manifest_line - 1) % count == index; }
  std::string suffix() const;  // "" or ".shard-K-of-N"
};

struct RunFiles {
  std::filesystem::path out;
  Shard shard;
  std::filesystem::path journal() const { return out / ("journal" + shard.suffix() + ".jsonl"); }
  std::filesystem::path summary() const { return out / ("summary" + shard.suffix() + ".json"); }
  std::filesystem::path plan() const { return out / ("run" + shard.suffix() + ".json"); }
  std::filesystem::path lock() const { return out / ("run" + shard.suffix() + ".lock"); }
  std::filesystem::path partial_dir() const { return out / ".partial"; }
};

// Removes half-written files (the writers' temporary names) left in the
// output directory and .partial/ by a killed run, when the file they were
// to become is one of `ours` (other shards may be writing beside us).
// Returns how many.
int64_t remove_temporaries(const std::filesystem::path& out, const std::set<std::string>& ours);

}  // namespace sv::jobs
