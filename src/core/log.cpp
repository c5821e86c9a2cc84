#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace sv {

namespace {
std::atomic<int> g_rank{0};
std::atomic<LogLevel> g_level{LogLevel::Info};
}  // namespace

void log_set_rank(int rank) { g_rank = rank; }
void log_set_level(LogLevel level) { g_level = level; }

void log_line(LogLevel level, std::string_view message) {
  if (level < g_level.load()) return;
  using clock = std::chrono::system_clock;
  const auto now = clock::now();
  const std::time_t t = clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  const char* tag = level == LogLevel::Warn ? " warning:" : level == LogLevel::Error ? " error:" : "";
  // One fprintf per line keeps lines from different threads whole.
  std::fprintf(stderr, "%02d:%02d:%02d.%03d [r%d]%s %.*s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
               static_cast<int>(ms.count()), g_rank.load(), tag, static_cast<int>(message.size()),
               message.data());
}

}  // namespace sv
