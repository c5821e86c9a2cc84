// The DiT's two attention modules as upstream defines them (blocks.py):
// self-attention over video tokens with fused per-head QKV, q/k RMSNorm and 3D
// RoPE; cross-attention from video tokens to the text with a key-length mask.
// Heads are split over tensor-parallel ranks by the column/row-parallel
// projections; the sequence is split over sequence-parallel ranks and
// exchanged for a head split around self-attention (Ulysses).
#pragma once

#include <span>

#include "layers/norms.h"
#include "layers/parallel_linear.h"
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

  // Training (DESIGN.md 6b): the same forward keeping what backward needs,
  // and the backward returning dx and adding the parameter gradients.
  struct Saved {
    ColumnParallelLinear::Saved wqkv;
    RMSNorm::Saved q_norm, k_norm;
    Tensor q, k, v, out;  // attention's inputs and output, heads layout
    Tensor lse;           // attention's log-sum-exp per row
    RowParallelLinear::Saved wo;
  };
  Tensor forward(const Tensor& x, const ops::RopeGrid& grid, const TokenSplit& split, Saved& saved) const;
  Tensor backward(const Tensor& dy, const ops::RopeGrid& grid, const TokenSplit& split, const Saved& saved,
                  Gradients& grads) const;

 private:
  ParallelGroups groups_;
  int64_t heads_;  // on this tensor-parallel rank
  int64_t head_dim_;
  ops::RopeSplit rope_split_;
  ColumnParallelLinear wqkv_;
  RowParallelLinear wo_;
  RMSNorm q_norm_, k_norm_;
};

class DitCrossAttention {
 public:
  DitCrossAttention(const Scope& scope, int64_t dim, int64_t head_dim,
                    const ParallelGroups& groups);
  // x: [B, S_r, D]; text: [B, L, D]; row b attends text keys [0, kv_lens[b]).
  Tensor operator()(const Tensor& x, const Tensor& text, std::span<const int64_t> kv_lens) const;

  struct Saved {
    ColumnParallelLinear::Saved wq, wkv;
    RMSNorm::Saved q_norm, k_norm;
    Tensor q, k, v, out, lse;
    RowParallelLinear::Saved wo;
  };
  struct InputGradients {
    Tensor dx, dtext;  // dtext: this rank's tokens' share (sum it over sp)
  };
  Tensor forward(const Tensor& x, const Tensor& text, std::span<const int64_t> kv_lens, Saved& saved) const;
  InputGradients backward(const Tensor& dy, std::span<const int64_t> kv_lens, const Saved& saved,
                          Gradients& grads) const;

 private:
  ParallelGroups groups_;
  int64_t heads_;
  int64_t head_dim_;
  ColumnParallelLinear wq_, wkv_;
  RowParallelLinear wo_;
  RMSNorm q_norm_, k_norm_;
};

}  // namespace sv
