#include "models/tokenizers/token_batch.h"

#include <algorithm>

#include "core/error.h"

namespace sv::tok {

TokenBatch pack_rows(const std::vector<std::vector<int64_t>>& rows,
                     const std::vector<bool>& truncated, int64_t max_length, int64_t pad_id) {
  SV_CHECK(rows.size() == truncated.size(), "pack_rows: {} rows, {} truncation flags",
           rows.size(), truncated.size());
  const auto b = static_cast<int64_t>(rows.size());
  TokenBatch out;
  out.input_ids = Tensor::empty(Shape{b, max_length}, DType::I64);
  out.attention_mask = Tensor::zeros(Shape{b, max_length}, DType::I64);
  out.truncated = truncated;
  int64_t* ids = out.input_ids.data<int64_t>();
  int64_t* mask = out.attention_mask.data<int64_t>();
  for (int64_t r = 0; r < b; ++r) {
    const auto& row = rows[static_cast<size_t>(r)];
    const auto n = static_cast<int64_t>(row.size());
    SV_CHECK(n <= max_length, "pack_rows: row {} has {} tokens, more than {}", r, n, max_length);
    std::copy(row.begin(), row.end(), ids + r * max_length);
    std::fill(ids + r * max_length + n, ids + (r + 1) * max_length, pad_id);
    std::fill(mask + r * max_length, mask + r * max_length + n, int64_t{1});
    out.valid_lengths.push_back(n);
  }
  return out;
}

}  // namespace sv::tok
