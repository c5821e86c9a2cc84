#include "models/dit/dit_block.h"

#include "ops/activations.h"
#include "ops/modulate.h"

namespace sv {

namespace {
// The blocks' LayerNorms use torch's default eps: upstream does not pass the
// model's norm_eps down to them.
constexpr float kBlockNormEps = 1e-5f;
}  // namespace

DitBlock::DitBlock(const Scope& scope, int64_t dim, int64_t head_dim, const ParallelGroups& groups)
    : groups_(groups),
      dim_(dim),
      scale_shift_table_(&scope.param("scale_shift_table", Shape{6, dim}, Init::Table)),
      norm1_(scope.child("norm1"), dim, kBlockNormEps, true),
      attn1_(scope.child("attn1"), dim, head_dim, groups),
      norm2_(scope.child("norm2"), dim, kBlockNormEps, true),
      attn2_(scope.child("attn2"), dim, head_dim, groups),
      ff_in_(scope.child("ff").child("net").child(0).child("proj"), dim, 4 * dim, false,
             Shard::columns(groups.tp_size(), groups.tp_rank())),
      ff_out_(scope.child("ff").child("net").child(2), 4 * dim, dim, false,
              Shard::rows(groups.tp_size(), groups.tp_rank())) {}

void DitBlock::forward(Tensor& x, const Tensor& text, std::span<const int64_t> kv_lens,
                       const Tensor& t6, const ops::RopeGrid& grid,
                       const TokenSplit& split) const {
  const int64_t batch = x.dim(0);
  SV_CHECK(t6.dim(0) == batch && t6.dim(1) == 6 * dim_, "DiT block: timestep table {} for {}",
           t6.describe(), x.describe());
  // mod[b, k, :] = scale_shift_table[k, :] + t6[b, k*D:(k+1)*D]
  Tensor mod = Tensor::empty(Shape{batch, 6, dim_}, DType::F32);
  {
    const float* table = scale_shift_table_->value.data<float>();
    const float* tp = t6.data<float>();
    float* mp = mod.data<float>();
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t i = 0; i < 6 * dim_; ++i) mp[b * 6 * dim_ + i] = table[i] + tp[b * 6 * dim_ + i];
    }
  }
  const Tensor shift_msa = mod.select(1, 0), scale_msa = mod.select(1, 1),
               gate_msa = mod.select(1, 2), shift_mlp = mod.select(1, 3),
               scale_mlp = mod.select(1, 4), gate_mlp = mod.select(1, 5);

  Tensor h = norm1_(x);
  ops::modulate_(h, shift_msa, scale_msa);
  ops::gated_residual_(x, attn1_(h, grid, split), gate_msa);

  ops::gated_residual_(x, attn2_(x, text, kv_lens), Tensor());

  h = norm2_(x);
  ops::modulate_(h, shift_mlp, scale_mlp);
  Tensor f = ff_in_(h);
  ops::gelu_tanh_(f);
  Tensor mlp = ff_out_(f);
  if (groups_.tp_size() > 1) groups_.tp->all_reduce_sum(mlp.data<float>(), mlp.numel());
  ops::gated_residual_(x, mlp, gate_mlp);
}

}  // namespace sv
