#include "jobs/run_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "io/durable_file.h"

namespace sv::jobs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string slurm_job() {
  const char* id = std::getenv("SLURM_JOB_ID");
  return id ? id : "";
}

json read_lock(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return json();
  return json::parse(in, nullptr, false);
}

// State and start time (clock ticks since boot) of a process, from
// /proc/PID/stat; nothing when there is no such process.
struct ProcessStat {
  char state = '?';
  unsigned long long start_ticks = 0;
};

std::optional<ProcessStat> process_stat(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces, so parse after the last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 1));
  ProcessStat st;
  rest >> st.state;
  std::string field;
  for (int i = 4; i < 22 && rest >> field; ++i) {
  }
  rest >> st.start_ticks;  // field 22
  return st;
}

// Is the lock's holder on this host still running? Pids are recycled (fast
// in containers with a small pid_max), so the holder is identified by pid and
// start time; a zombie has finished.
bool holder_running(const json& lock) {
  const long pid = lock.value("pid", 0L);
  if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) return false;
  const auto st = process_stat(pid);
  if (!st) return false;
  if (st->state == 'Z' || st->state == 'X') return false;
  if (lock.contains("start_ticks")) return lock.value("start_ticks", 0ULL) == st->start_ticks;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name.find("stepvideo") != std::string::npos;
}

bool alive(const json& lock) {
  if (!lock.is_object()) return false;  // unreadable: written by a run killed mid-write
  const std::string job = lock.value("slurm_job", "");
  if (!job.empty() && job == slurm_job()) return false;  // our own job's earlier incarnation
  if (lock.value("host", "") != host_name()) return true;
  return holder_running(lock);
}

std::string describe(const json& lock) {
  if (!lock.is_object()) return "an unreadable lock";
  std::string s = fmt::format("{} pid {}", lock.value("host", "?"), lock.value("pid", 0L));
  if (!lock.value("slurm_job", "").empty()) s += " (slurm job " + lock.value("slurm_job", "") + ")";
  return s;
}

}  // namespace

RunLock::RunLock(fs::path path) : path_(std::move(path)) {
  const auto self = process_stat(static_cast<long>(::getpid()));
  const json me{{"host", host_name()},
                {"pid", static_cast<long>(::getpid())},
                {"start_ticks", self ? self->start_ticks : 0ULL},
                {"slurm_job", slurm_job()},
                {"since", static_cast<long>(::time(nullptr))}};
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd >= 0) {
      const std::string text = me.dump() + "\n";
      const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                      ::fsync(fd) == 0;
      ::close(fd);
      SV_CHECK_AS(InputError, ok, "{}: cannot write the lock file", path_.string());
      io::fsync_directory(path_.parent_path());
      return;
    }
    SV_CHECK_AS(InputError, errno == EEXIST, "{}: cannot create the lock file: {}", path_.string(),
                std::strerror(errno));
    const json other = read_lock(path_);
    SV_CHECK_AS(ConfigError, !alive(other),
                "{}: another run is using this output directory ({}); wait for it or use another "
                "--out (remove the lock file only if that run is gone)",
                path_.string(), describe(other));
    log_warn("{}: taking over the lock of a run that is gone ({})", path_.string(), describe(other));
    std::error_code ec;
    fs::remove(path_, ec);
  }
  throw ConfigError(path_.string() + ": another run took the lock at the same moment");
}

RunLock::~RunLock() {
  std::error_code ec;
  fs::remove(path_, ec);
}

std::string RunLock::holder(const fs::path& path) {
  if (!fs::exists(path)) return "";
  return describe(read_lock(path));
}

bool RunLock::holder_alive(const fs::path& path) { return fs::exists(path) && alive(read_lock(path)); }

}  // namespace sv::jobs
