// One StepVideoTransformerBlock: AdaLN-single modulated self-attention,
// unmodulated cross-attention, modulated GELU(tanh) MLP, each with a residual.
#pragma once

#include <span>

#include "layers/norms.h"
#include "layers/parallel_linear.h"
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

  // Training: what the block's backward needs. Nothing in it is updated in
  // place after it is saved (the inference path's in-place residuals would).
  struct Saved {
    Tensor mod;  // [B, 6, D]: scale_shift_table + t6
    LayerNorm::Saved norm1, norm2;
    Tensor h1, h2;    // LayerNorm outputs, before modulation
    Tensor attn_out;  // self-attention output (gated into the residual)
    DitSelfAttention::Saved attn1;
    DitCrossAttention::Saved attn2;
    ColumnParallelLinear::Saved ff_in;
    Tensor ff_pre;  // before GELU
    RowParallelLinear::Saved ff_out;
    Tensor mlp_out;
  };
  // Returns the block's output (x is not modified).
  Tensor forward(const Tensor& x, const Tensor& text, std::span<const int64_t> kv_lens, const Tensor& t6,
                 const ops::RopeGrid& grid, const TokenSplit& split, Saved& saved) const;
  struct InputGradients {
    Tensor dx;     // [B, S_r, D]
    Tensor dtext;  // [B, L, D], this rank's tokens' share
    Tensor dt6;    // [B, 6 D]
  };
  InputGradients backward(const Tensor& dy, std::span<const int64_t> kv_lens, const ops::RopeGrid& grid,
                          const TokenSplit& split, const Saved& saved, Gradients& grads) const;

 private:
  Tensor modulation(const Tensor& t6) const;

  ParallelGroups groups_;
  int64_t dim_;
  Parameter* scale_shift_table_;  // [6, D]
  LayerNorm norm1_;
  DitSelfAttention attn1_;
  LayerNorm norm2_;
  DitCrossAttention attn2_;
  ColumnParallelLinear ff_in_;
  RowParallelLinear ff_out_;
};

}  // namespace sv
