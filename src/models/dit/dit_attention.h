// The DiT's two attention modules as upstream defines them (blocks.py):
// self-attention over video tokens with fused per-head QKV, q/k RMSNorm and 3D
// RoPE; cross-attention from video tokens to the text with a key-length mask.
#pragma once

#include <span>

#include "layers/linear.h"
#include "layers/norms.h"
#include "ops/rope3d.h"
#include "parallel/parallel_groups.h"
#include "parallel/token_split.h"

namespace sv {

class DitSelfAttention {
 public:
  DitSelfAttention(const Scope& scope, int64_t dim, int64_t head_dim, const ParallelGroups& groups);
  // x: [B, S_r, D], this sequence-parallel rank's tokens (already normalised
  // and modulated) -> [B, S_r, D], complete (summed over tensor-parallel ranks).
  Tensor operator()(const Tensor& x, const ops::RopeGrid& grid, const TokenSplit& split) const;

 private:
  ParallelGroups groups_;
  int64_t heads_;  // on this tensor-parallel rank
  int64_t head_dim_;
  Linear wqkv_, wo_;
  RMSNorm q_norm_, k_norm_;
};

class DitCrossAttention {
 public:
  DitCrossAttention(const Scope& scope, int64_t dim, int64_t head_dim,
                    const ParallelGroups& groups);
  // x: [B, S_r, D]; text: [B, L, D]; row b attends text keys [0, kv_lens[b]).
  Tensor operator()(const Tensor& x, const Tensor& text, std::span<const int64_t> kv_lens) const;

 private:
  ParallelGroups groups_;
  int64_t heads_;
  int64_t head_dim_;
  Linear wq_, wkv_, wo_;
  RMSNorm q_norm_, k_norm_;
};

}  // namespace sv
