// One line per event on stderr, with the UTC date and time and the rank, so
// logs of many ranks can be merged and sorted. stdout is reserved for
// results. Text lines read "2026-12-02T06:40:01.123Z [r0] message"; with
// --log-format json every line is one object:
//   {"time": "...", "rank": 0, "level": "info", "event": "item_done", "message": "...", "fields": {...}}
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace sv {

enum class LogLevel { Debug, Info, Warn, Error };
enum class LogFormat { Text, Json };

// Process-wide logging settings: the rank only labels lines, it is not a
// communicator, so keeping it here does not couple code to MPI.
void log_set_rank(int rank);
void log_set_level(LogLevel level);
void log_set_format(LogFormat format);
LogLevel log_level();
LogFormat log_format();

// A named value of a structured event (JSON: a member of "fields").
struct LogField {
  std::string_view key;
  std::string value;
  bool number = false;  // written unquoted in JSON
};
LogField log_field(std::string_view key, std::string_view value);
LogField log_field(std::string_view key, double value);
LogField log_field(std::string_view key, int64_t value);

void log_line(LogLevel level, std::string_view message);
// `event` names what happened for machines ("item_done", "step"); text logs
// show only the message.
void log_event(LogLevel level, std::string_view event, std::string_view message,
               std::span<const LogField> fields);
inline void log_event(LogLevel level, std::string_view event, std::string_view message,
                      std::initializer_list<LogField> fields) {
  log_event(level, event, message, std::span<const LogField>(fields.begin(), fields.size()));
}

template <typename... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  log_line(LogLevel::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
  log_line(LogLevel::Warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::Debug) log_line(LogLevel::Debug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace sv
