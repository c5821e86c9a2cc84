// Multi-head attention with an additive score bias and grouped key/value
// heads: softmax(Q K^T * scale + bias) V, the form of the two text encoders
// (Step-LLM: causal square-root ALiBi table; BERT: key padding mask). The
// whole score row is materialised, which suits their short sequences (320 and
// 77 tokens); the DiT's long sequences use ops/attention.h.
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// q: f32 [B, Sq, H, d]; k, v: f32 [B, Sk, G, d] with H a multiple of G: query
// head h reads kv head h / (H / G). bias: f32 [Bb, Hb, Rb, Sk] with Bb in
// {1, B}, Hb in {1, H}, Rb in {1, Sq} (broadcast), or undefined for none;
// -inf entries exclude a key (a row with every key excluded yields NaN, as
// torch does). All contiguous. Returns f32 [B, Sq, H, d]. Scores, softmax and
// accumulation are f32; exp is the exact std::exp.
Tensor biased_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                        float scale);

}  // namespace sv::ops
