// Small helpers shared by the text encoders: input validation and in-place
// residual adds.
#pragma once

#include <string_view>

#include "core/tensor.h"

namespace sv::text {

// ids as contiguous i64 [B, S] with every id in [0, vocab); InputError naming
// the encoder and the first bad id otherwise.
Tensor check_token_ids(const Tensor& ids, int64_t vocab, std::string_view who);
// A mask of the same shape as ids, as contiguous i64 (any integer dtype accepted).
Tensor check_mask(const Tensor& mask, const Tensor& ids, std::string_view who);
// a += b, both contiguous f32 of the same shape.
void add_(Tensor& a, const Tensor& b);

}  // namespace sv::text
