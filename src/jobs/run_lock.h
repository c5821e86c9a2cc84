// One live run per output directory: a lock file created exclusively, holding
// host, pid and Slurm job id. A lock whose process is gone (same host, pid
// dead or not stepvideo; or the same Slurm job, which Slurm never runs twice
// at once, i.e. a requeue) is taken over with a warning.
#pragma once

#include <filesystem>
#include <string>

namespace sv::jobs {

class RunLock {
 public:
  // ConfigError naming the holder when another live run has the directory.
  explicit RunLock(std::filesystem::path path);
  ~RunLock();  // removes the file
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // "host 1234 (slurm job 77)" of a lock file's holder, or "" when unlocked.
  static std::string holder(const std::filesystem::path& path);
  // Whether the holder recorded in a lock file is still running (best effort
  // for other hosts: they are assumed alive).
  static bool holder_alive(const std::filesystem::path& path);

 private:
  std::filesystem::path path_;
};

}  // namespace sv::jobs
