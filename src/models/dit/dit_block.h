// One StepVideoTransformerBlock: AdaLN-single modulated self-attention,
// unmodulated cross-attention, modulated GELU(tanh) MLP, each with a residual.
#pragma once

#include <span>

#include "layers/linear.h"
#include "layers/norms.h"
#include "models/dit/dit_attention.h"
#include "parallel/parallel_groups.h"

namespace sv {

class DitBlock {
 public:
  DitBlock(const Scope& scope, int64_t dim, int64_t head_dim, const ParallelGroups& groups);
  // x: [B, S_r, D] (this sequence-parallel rank's tokens) updated in place;
  // text: [B, L, D]; t6: [B, 6 D] (adaln_single output).
  void forward(Tensor& x, const Tensor& text, std::span<const int64_t> kv_lens, const Tensor& t6,
               const ops::RopeGrid& grid, const TokenSplit& split) const;

 private:
  ParallelGroups groups_;
  int64_t dim_;
  Parameter* scale_shift_table_;  // [6, D]
  LayerNorm norm1_;
  DitSelfAttention attn1_;
  LayerNorm norm2_;
  DitCrossAttention attn2_;
  Linear ff_in_, ff_out_;
};

}  // namespace sv
