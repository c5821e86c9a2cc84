// Multi-head scaled dot-product attention, computed blockwise with an online
// softmax (the flash-attention scheme): memory stays O(block^2) per thread
// however long the sequence, which matters at ~76k video tokens.
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"

namespace sv::ops {

// q: f32 [B, Sq, H, d]; k, v: f32 [B, Sk, H, d]; all contiguous.
// kv_lens: empty (every key attended) or one entry per batch row: row b attends
// keys [0, kv_lens[b]) (a prefix mask, as the DiT's text mask). scale: usually
// 1/sqrt(d). Returns f32 [B, Sq, H, d]. With `lse`, also each row's
// log-sum-exp of the scaled scores, f32 [B, H, Sq], for the backward.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v,
                 std::span<const int64_t> kv_lens, float scale, Tensor* lse = nullptr);

struct AttentionGrads {
  Tensor dq, dk, dv;  // shaped as q, k, v; keys past a row's kv_len get zero
};
// Backward of attention, from its inputs, its output `out` and the output
// gradient `dout`. Blockwise like the forward (no [Sq, Sk] matrix is kept):
// per query block, one pass over the keys finds each row's log-sum-exp, a
// second re-forms the probabilities P and accumulates dV += P^T dO,
// dS = P (dO V^T - rowsum(dO out)), dQ += scale dS K, dK += scale dS^T Q.
// With the forward's `lse` the first pass (one more Q K^T per block) is skipped.
AttentionGrads attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                  const Tensor& dout, std::span<const int64_t> kv_lens, float scale,
                                  const Tensor* lse = nullptr);

}  // namespace sv::ops
