// Wall-clock seconds since a steady-clock time point, for timings and progress lines.
#pragma once

#include <chrono>

namespace sv {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace sv
