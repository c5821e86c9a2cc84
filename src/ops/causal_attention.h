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

struct CausalAttentionGrads {
  Tensor dq, dk, dv;  // shaped as q, k, v; keys no query sees get zero
};
// Backward (VAE training), from the forward's inputs and the output
// gradient dout ([B, Sq, d]). Each query row's softmax is recomputed in
// double; O(Sq x Sk x d) work and O(Sk) memory per row, which is what the
// small training sizes of the VAE need, not the blockwise forward's scale.
CausalAttentionGrads causal_attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, int64_t q_offset,
                                               float scale, const Tensor& dout);

}  // namespace sv::ops
