#include "cli/bench_stats.h"

namespace sv::cli {

float max_over(Communicator& world, float mine) {
  if (world.size() == 1) return mine;
  std::vector<float> all(static_cast<size_t>(world.size()));
  world.all_gatherv(&mine, all.data(), std::vector<int64_t>(static_cast<size_t>(world.size()), 1));
  return *std::max_element(all.begin(), all.end());
}

int64_t max_over(Communicator& world, int64_t mine) {
  if (world.size() == 1) return mine;
  const float halves[2] = {static_cast<float>(mine >> 24), static_cast<float>(mine & 0xFFFFFF)};
  std::vector<float> all(2 * static_cast<size_t>(world.size()));
  world.all_gatherv(halves, all.data(), std::vector<int64_t>(static_cast<size_t>(world.size()), 2));
  int64_t largest = 0;
  for (size_t r = 0; r < all.size(); r += 2) {
    largest = std::max(largest, (static_cast<int64_t>(all[r]) << 24) + static_cast<int64_t>(all[r + 1]));
  }
  return largest;
}

}  // namespace sv::cli
