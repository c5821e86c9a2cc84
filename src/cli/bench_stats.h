// What the benchmarks report of their timed repetitions.
#pragma once

#include <algorithm>
#include <vector>

namespace sv::cli {

inline double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace sv::cli
