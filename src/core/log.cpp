#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace sv {

namespace {

std::atomic<int> g_rank{0};
std::atomic<LogLevel> g_level{LogLevel::Info};
std::atomic<LogFormat> g_format{LogFormat::Text};

std::string utc_timestamp() {
  using clock = std::chrono::system_clock;
  const auto now = clock::now();
  const std::time_t t = clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms.count()));
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warning";
    case LogLevel::Error: return "error";
  }
  return "info";
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// One fwrite per line keeps lines from different threads whole.
void emit(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

void log_set_rank(int rank) { g_rank = rank; }
void log_set_level(LogLevel level) { g_level = level; }
void log_set_format(LogFormat format) { g_format = format; }
LogLevel log_level() { return g_level.load(); }
LogFormat log_format() { return g_format.load(); }

LogField log_field(std::string_view key, std::string_view value) { return {key, std::string(value), false}; }
LogField log_field(std::string_view key, double value) {
  return {key, std::isfinite(value) ? fmt::format("{}", value) : "null", true};
}
LogField log_field(std::string_view key, int64_t value) { return {key, std::to_string(value), true}; }

void log_event(LogLevel level, std::string_view event, std::string_view message,
               std::span<const LogField> fields) {
  if (level < g_level.load()) return;
  std::string line;
  if (g_format.load() == LogFormat::Json) {
    line = fmt::format(R"({{"time": "{}", "rank": {}, "level": "{}", "event": )", utc_timestamp(), g_rank.load(),
                       level_name(level));
    append_json_string(line, event);
    line += ", \"message\": ";
    append_json_string(line, message);
    line += ", \"fields\": {";
    bool first = true;
    for (const LogField& f : fields) {
      if (!first) line += ", ";
      first = false;
      append_json_string(line, f.key);
      line += ": ";
      if (f.number) {
        line += f.value;
      } else {
        append_json_string(line, f.value);
      }
    }
    line += "}}\n";
  } else {
    const char* tag = level == LogLevel::Warn ? " warning:" : level == LogLevel::Error ? " error:" : "";
    line = fmt::format("{} [r{}]{} {}\n", utc_timestamp(), g_rank.load(), tag, message);
  }
  emit(line);
}

void log_line(LogLevel level, std::string_view message) { log_event(level, "log", message, {}); }

}  // namespace sv
