// What both tokenizers return for a batch of prompts, padded to a fixed length
// as the text encoders expect.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace sv::tok {

struct TokenBatch {
  Tensor input_ids;       // i64 [B, max_length]
  Tensor attention_mask;  // i64 [B, max_length]: 1 over the valid prefix, 0 on padding
  std::vector<int64_t> valid_lengths;  // per row, the number of ones in the mask
  std::vector<bool> truncated;         // per row, whether text tokens were dropped
};

// Packs unpadded rows (each already holding its begin/end tokens) into a batch.
TokenBatch pack_rows(const std::vector<std::vector<int64_t>>& rows,
                     const std::vector<bool>& truncated, int64_t max_length, int64_t pad_id);

}  // namespace sv::tok
