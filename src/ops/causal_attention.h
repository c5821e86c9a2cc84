// Single-head causal attention over a token sequence, computed blockwise with
// an online softmax so memory stays O(block^2) per thread (the Video-VAE's mid
// block attends over ~42k tokens of width 512).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace sv::ops {

// q: f32 [B, Sq, d]; k, v: f32 [B, Sk, d]; contiguous. Query i sits at
// sequence position q_offset + i and attends keys [0, q_offset + i] (token
// causal: is_causal=True of scaled_dot_product_attention when q_offset = 0 and
// Sq = Sk). A nonzero q_offset lets a caller feed queries in pieces against a
// growing key/value cache; requires q_offset + Sq <= Sk.
// Returns f32 [B, Sq, d].
Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t q_offset,
                        float scale);

}  // namespace sv::ops
