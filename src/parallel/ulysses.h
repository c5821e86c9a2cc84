// Ulysses sequence parallelism: all-to-all exchanges that turn a token split
// into a head split for attention and back. Rank r of the sp group holds
// tokens split.counts[r] (all of this tensor-parallel rank's heads) before,
// and all tokens of head block r (heads / sp of them) during attention.
#pragma once

#include "core/tensor.h"
#include "parallel/communicator.h"
#include "parallel/token_split.h"

namespace sv {

// x: f32 [B, S_r, H, d] -> [B, S, H / sp, d].
Tensor ulysses_tokens_to_heads(const Tensor& x, const TokenSplit& split, Communicator& sp);
// y: f32 [B, S, H / sp, d] -> [B, S_r, H, d] (the inverse).
Tensor ulysses_heads_to_tokens(const Tensor& y, const TokenSplit& split, Communicator& sp);

// tokens: f32 [B, S_r, F] on each rank -> [B, S, F] on every rank.
Tensor gather_tokens(const Tensor& tokens, const TokenSplit& split, Communicator& sp);

}  // namespace sv
