// How a sequence of tokens is divided among sequence-parallel ranks:
// contiguous ranges, the first (S mod n) ranks one token longer, so any S
// works without padding.
#pragma once

#include <cstdint>
#include <vector>

namespace sv {

struct TokenSplit {
  std::vector<int64_t> counts, offsets;

  static TokenSplit even(int64_t tokens, int parts);
  int64_t total() const { return offsets.empty() ? 0 : offsets.back() + counts.back(); }
};

}  // namespace sv
