// Wall-clock seconds since a steady-clock time point, for timings and progress lines.
#pragma once

#include <chrono>

namespace sv {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Seconds since the Unix epoch (the wall time TensorBoard records carry).
inline double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace sv
