#include "parallel/token_split.h"

#include "core/error.h"

namespace sv {

TokenSplit TokenSplit::even(int64_t tokens, int parts) {
  SV_CHECK(parts >= 1 && tokens >= 0, "cannot split {} tokens into {} parts", tokens, parts);
  TokenSplit s;
  int64_t offset = 0;
  for (int i = 0; i < parts; ++i) {
    const int64_t n = tokens / parts + (i < tokens % parts ? 1 : 0);
    s.counts.push_back(n);
    s.offsets.push_back(offset);
    offset += n;
  }
  return s;
}

}  // namespace sv
