#include "models/dit/dit_attention.h"

#include <cmath>

#include "ops/attention.h"
#include "ops/split_heads.h"
#include "parallel/ulysses.h"

namespace sv {

namespace {

constexpr float kQkNormEps = 1e-6f;

// Heads are split across tensor-parallel ranks; each head's q|k|v rows of the
// fused weight are contiguous, so a column split of the weight is a head split.
int64_t local_heads(int64_t dim, int64_t head_dim, const ParallelGroups& groups) {
  const int64_t heads = dim / head_dim;
  SV_CHECK_AS(ConfigError, heads % groups.tp_size() == 0,
              "{} attention heads do not split over tp={}", heads, groups.tp_size());
  return heads / groups.tp_size();
}

// Row-parallel output projections leave partial sums on each tensor-parallel rank.
Tensor reduce_partial_sums(Tensor y, const ParallelGroups& groups) {
  if (groups.tp_size() > 1) groups.tp->all_reduce_sum(y.data<float>(), y.numel());
  return y;
}

Tensor merge_heads(const Tensor& t) {  // [B, S, H, d] -> [B, S, H*d], a view
  return t.reshape(Shape{t.dim(0), t.dim(1), t.dim(2) * t.dim(3)});
}

}  // namespace

DitSelfAttention::DitSelfAttention(const Scope& scope, int64_t dim, int64_t head_dim,
                                   const ParallelGroups& groups)
    : groups_(groups),
      heads_(local_heads(dim, head_dim, groups)),
      head_dim_(head_dim),
      wqkv_(scope.child("wqkv"), dim, 3 * dim, false, Shard::columns(groups.tp_size(), groups.tp_rank())),
      wo_(scope.child("wo"), dim, dim, false, Shard::rows(groups.tp_size(), groups.tp_rank())),
      q_norm_(scope.child("q_norm"), head_dim, kQkNormEps),
      k_norm_(scope.child("k_norm"), head_dim, kQkNormEps) {}

Tensor DitSelfAttention::operator()(const Tensor& x, const ops::RopeGrid& grid,
                                    const TokenSplit& split) const {
  std::vector<Tensor> qkv = ops::split_heads(wqkv_(x), heads_, 3);
  q_norm_.apply_(qkv[0]);
  k_norm_.apply_(qkv[1]);
  // RoPE uses each token's global grid position, before tokens move ranks.
  const int64_t first = split.offsets[static_cast<size_t>(groups_.sp_rank())];
  ops::rope3d_(qkv[0], grid, first);
  ops::rope3d_(qkv[1], grid, first);
  Communicator& sp = *groups_.sp;
  for (Tensor& t : qkv) t = ulysses_tokens_to_heads(t, split, sp);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim_));
  const Tensor out = ulysses_heads_to_tokens(ops::attention(qkv[0], qkv[1], qkv[2], {}, scale),
                                             split, sp);
  return reduce_partial_sums(wo_(merge_heads(out)), groups_);
}

DitCrossAttention::DitCrossAttention(const Scope& scope, int64_t dim, int64_t head_dim,
                                     const ParallelGroups& groups)
    : groups_(groups),
      heads_(local_heads(dim, head_dim, groups)),
      head_dim_(head_dim),
      wq_(scope.child("wq"), dim, dim, false, Shard::columns(groups.tp_size(), groups.tp_rank())),
      wkv_(scope.child("wkv"), dim, 2 * dim, false, Shard::columns(groups.tp_size(), groups.tp_rank())),
      wo_(scope.child("wo"), dim, dim, false, Shard::rows(groups.tp_size(), groups.tp_rank())),
      q_norm_(scope.child("q_norm"), head_dim, kQkNormEps),
      k_norm_(scope.child("k_norm"), head_dim, kQkNormEps) {}

Tensor DitCrossAttention::operator()(const Tensor& x, const Tensor& text,
                                     std::span<const int64_t> kv_lens) const {
  Tensor q = wq_(x);
  q = q.reshape(Shape{q.dim(0), q.dim(1), heads_, head_dim_});
  std::vector<Tensor> kv = ops::split_heads(wkv_(text), heads_, 2);
  q_norm_.apply_(q);
  k_norm_.apply_(kv[0]);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim_));
  const Tensor out = ops::attention(q, kv[0], kv[1], kv_lens, scale);
  return reduce_partial_sums(wo_(merge_heads(out)), groups_);
}

}  // namespace sv
