#include "models/dit/dit_block.h"

#include <cstring>

#include "layers/gradients.h"
#include "ops/accumulate.h"
#include "ops/activations.h"
#include "ops/modulate.h"

namespace sv {

namespace {
// The blocks' LayerNorms use torch's default eps: upstream does not pass the
// model's norm_eps down to them.
constexpr float kBlockNormEps = 1e-5f;

// The six rows of the modulation table, in upstream's order.
enum Row : int64_t { kShiftMsa, kScaleMsa, kGateMsa, kShiftMlp, kScaleMlp, kGateMlp };

Tensor modulated(const Tensor& h, const Tensor& mod, Row shift, Row scale) {
  Tensor out = h.clone();
  ops::modulate_(out, mod.select(1, shift), mod.select(1, scale));
  return out;
}


}  // namespace

DitBlock::DitBlock(const Scope& scope, int64_t dim, int64_t head_dim, const ParallelGroups& groups)
    : groups_(groups),
      dim_(dim),
      scale_shift_table_(&scope.param("scale_shift_table", Shape{6, dim}, Init::Table)),
      norm1_(scope.child("norm1"), dim, kBlockNormEps, true),
      attn1_(scope.child("attn1"), dim, head_dim, groups),
      norm2_(scope.child("norm2"), dim, kBlockNormEps, true),
      attn2_(scope.child("attn2"), dim, head_dim, groups),
      ff_in_(scope.child("ff").child("net").child(0).child("proj"), dim, 4 * dim, false, *groups.tp),
      ff_out_(scope.child("ff").child("net").child(2), 4 * dim, dim, false, *groups.tp) {}

// mod[b, k, :] = scale_shift_table[k, :] + t6[b, k*D:(k+1)*D]
Tensor DitBlock::modulation(const Tensor& t6) const {
  const int64_t batch = t6.dim(0);
  SV_CHECK(t6.rank() == 2 && t6.dim(1) == 6 * dim_, "DiT block: timestep table {}, expected [B, {}]",
           t6.describe(), 6 * dim_);
  Tensor mod = Tensor::empty(Shape{batch, 6, dim_}, DType::F32);
  const float* table = scale_shift_table_->value.data<float>();
  const float* tp = t6.data<float>();
  float* mp = mod.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < 6 * dim_; ++i) mp[b * 6 * dim_ + i] = table[i] + tp[b * 6 * dim_ + i];
  }
  return mod;
}

void DitBlock::forward(Tensor& x, const Tensor& text, std::span<const int64_t> kv_lens,
                       const Tensor& t6, const ops::RopeGrid& grid,
                       const TokenSplit& split) const {
  SV_CHECK(t6.dim(0) == x.dim(0), "DiT block: timestep table {} for {}", t6.describe(), x.describe());
  const Tensor mod = modulation(t6);

  Tensor h = norm1_(x);
  ops::modulate_(h, mod.select(1, kShiftMsa), mod.select(1, kScaleMsa));
  ops::gated_residual_(x, attn1_(h, grid, split), mod.select(1, kGateMsa));

  ops::gated_residual_(x, attn2_(x, text, kv_lens), Tensor());

  h = norm2_(x);
  ops::modulate_(h, mod.select(1, kShiftMlp), mod.select(1, kScaleMlp));
  Tensor f = ff_in_(h);
  ops::gelu_tanh_(f);
  ops::gated_residual_(x, ff_out_(f), mod.select(1, kGateMlp));
}

Tensor DitBlock::forward(const Tensor& x, const Tensor& text, std::span<const int64_t> kv_lens,
                         const Tensor& t6, const ops::RopeGrid& grid, const TokenSplit& split,
                         Saved& saved) const {
  SV_CHECK(t6.dim(0) == x.dim(0), "DiT block: timestep table {} for {}", t6.describe(), x.describe());
  saved.mod = modulation(t6);
  const Tensor& mod = saved.mod;

  saved.h1 = norm1_.forward(x, saved.norm1);
  saved.attn_out = attn1_.forward(modulated(saved.h1, mod, kShiftMsa, kScaleMsa), grid, split, saved.attn1);
  Tensor x1 = x.clone();
  ops::gated_residual_(x1, saved.attn_out, mod.select(1, kGateMsa));

  Tensor x2 = x1.clone();
  ops::gated_residual_(x2, attn2_.forward(x1, text, kv_lens, saved.attn2), Tensor());

  saved.h2 = norm2_.forward(x2, saved.norm2);
  saved.ff_pre = ff_in_.forward(modulated(saved.h2, mod, kShiftMlp, kScaleMlp), saved.ff_in);
  Tensor act = saved.ff_pre.clone();
  ops::gelu_tanh_(act);
  saved.mlp_out = ff_out_.forward(act, saved.ff_out);
  Tensor x3 = x2.clone();
  ops::gated_residual_(x3, saved.mlp_out, mod.select(1, kGateMlp));
  return x3;
}

DitBlock::InputGradients DitBlock::backward(const Tensor& dy, std::span<const int64_t> kv_lens,
                                            const ops::RopeGrid& grid, const TokenSplit& split,
                                            const Saved& saved, Gradients& grads) const {
  const Tensor& mod = saved.mod;
  Tensor dmod = Tensor::zeros(mod.shape(), DType::F32);
  Tensor d_shift_mlp = dmod.select(1, kShiftMlp), d_scale_mlp = dmod.select(1, kScaleMlp),
         d_gate_mlp = dmod.select(1, kGateMlp), d_shift_msa = dmod.select(1, kShiftMsa),
         d_scale_msa = dmod.select(1, kScaleMsa), d_gate_msa = dmod.select(1, kGateMsa);

  // MLP branch: x3 = x2 + gate_mlp * ff_out(gelu(ff_in(modulate(norm2(x2))))).
  Tensor dx = dy.contiguous().clone();  // the residual path; branches add to it
  const Tensor dmlp = ops::gated_residual_backward(saved.mlp_out, mod.select(1, kGateMlp), dx, &d_gate_mlp);
  const Tensor dact = ff_out_.backward(dmlp, saved.ff_out, grads);
  const Tensor dh2m = ff_in_.backward(ops::gelu_tanh_backward(saved.ff_pre, dact), saved.ff_in, grads);
  const Tensor dh2 = ops::modulate_backward(saved.h2, mod.select(1, kScaleMlp), dh2m, d_shift_mlp, d_scale_mlp);
  ops::accumulate_(dx, norm2_.backward(dh2, saved.norm2, grads));

  // Cross-attention: x2 = x1 + attn2(x1, text).
  DitCrossAttention::InputGradients cross = attn2_.backward(dx, kv_lens, saved.attn2, grads);
  ops::accumulate_(dx, cross.dx);

  // Self-attention: x1 = x + gate_msa * attn1(modulate(norm1(x))).
  const Tensor dattn = ops::gated_residual_backward(saved.attn_out, mod.select(1, kGateMsa), dx, &d_gate_msa);
  const Tensor dh1m = attn1_.backward(dattn, grid, split, saved.attn1, grads);
  const Tensor dh1 = ops::modulate_backward(saved.h1, mod.select(1, kScaleMsa), dh1m, d_shift_msa, d_scale_msa);
  ops::accumulate_(dx, norm1_.backward(dh1, saved.norm1, grads));

  // mod = table + t6: the table's gradient is the sum over the batch.
  Tensor& dtable = grads.of(*scale_shift_table_);
  const int64_t batch = mod.dim(0), width = 6 * dim_;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < width; ++i) dtable.data<float>()[i] += dmod.data<float>()[b * width + i];
  }
  return InputGradients{std::move(dx), std::move(cross.dtext), dmod.reshape(Shape{batch, width})};
}

}  // namespace sv
