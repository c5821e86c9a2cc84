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
// 1/sqrt(d). Returns f32 [B, Sq, H, d].
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v,
                 std::span<const int64_t> kv_lens, float scale);

}  // namespace sv::ops
