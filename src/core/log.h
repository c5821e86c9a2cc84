// One line per event on stderr, prefixed with wall time and rank, so logs of
// many ranks can be merged and sorted. stdout is reserved for results.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace sv {

enum class LogLevel { Debug, Info, Warn, Error };

// Process-wide logging settings: the rank only labels lines, it is not a
// communicator, so keeping it here does not couple code to MPI.
void log_set_rank(int rank);
void log_set_level(LogLevel level);
void log_line(LogLevel level, std::string_view message);

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
  log_line(LogLevel::Debug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace sv
