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

Tensor merge_heads(const Tensor& t) {  // [B, S, H, d] -> [B, S, H*d], a view
  return t.reshape(Shape{t.dim(0), t.dim(1), t.dim(2) * t.dim(3)});
}

Tensor split_last(const Tensor& t, int64_t heads, int64_t head_dim) {  // the inverse view
  return t.contiguous().reshape(Shape{t.dim(0), t.dim(1), heads, head_dim});
}

float attention_scale(int64_t head_dim) { return 1.0f / std::sqrt(static_cast<float>(head_dim)); }

}  // namespace

DitSelfAttention::DitSelfAttention(const Scope& scope, int64_t dim, int64_t head_dim,
                                   const ParallelGroups& groups)
    : groups_(groups),
      heads_(local_heads(dim, head_dim, groups)),
      head_dim_(head_dim),
      rope_split_(ops::RopeSplit::for_head_dim(head_dim)),
      wqkv_(scope.child("wqkv"), dim, 3 * dim, false, *groups.tp),
      wo_(scope.child("wo"), dim, dim, false, *groups.tp),
      q_norm_(scope.child("q_norm"), head_dim, kQkNormEps),
      k_norm_(scope.child("k_norm"), head_dim, kQkNormEps) {}

Tensor DitSelfAttention::operator()(const Tensor& x, const ops::RopeGrid& grid,
                                    const TokenSplit& split) const {
  std::vector<Tensor> qkv = ops::split_heads(wqkv_(x), heads_, 3);
  q_norm_.apply_(qkv[0]);
  k_norm_.apply_(qkv[1]);
  // RoPE uses each token's global grid position, before tokens move ranks.
  const int64_t first = split.offsets[static_cast<size_t>(groups_.sp_rank())];
  ops::rope3d_(qkv[0], grid, first, rope_split_);
  ops::rope3d_(qkv[1], grid, first, rope_split_);
  Communicator& sp = *groups_.sp;
  for (Tensor& t : qkv) t = ulysses_tokens_to_heads(t, split, sp);
  const Tensor out = ulysses_heads_to_tokens(ops::attention(qkv[0], qkv[1], qkv[2], {}, attention_scale(head_dim_)),
                                             split, sp);
  return wo_(merge_heads(out));
}

Tensor DitSelfAttention::forward(const Tensor& x, const ops::RopeGrid& grid, const TokenSplit& split,
                                 Saved& saved) const {
  std::vector<Tensor> qkv = ops::split_heads(wqkv_.forward(x, saved.wqkv), heads_, 3);
  q_norm_.apply_(qkv[0], saved.q_norm);
  k_norm_.apply_(qkv[1], saved.k_norm);
  const int64_t first = split.offsets[static_cast<size_t>(groups_.sp_rank())];
  ops::rope3d_(qkv[0], grid, first, rope_split_);
  ops::rope3d_(qkv[1], grid, first, rope_split_);
  Communicator& sp = *groups_.sp;
  for (Tensor& t : qkv) t = ulysses_tokens_to_heads(t, split, sp);
  saved.q = qkv[0];
  saved.k = qkv[1];
  saved.v = qkv[2];
  saved.out = ops::attention(saved.q, saved.k, saved.v, {}, attention_scale(head_dim_), &saved.lse);
  return wo_.forward(merge_heads(ulysses_heads_to_tokens(saved.out, split, sp)), saved.wo);
}

Tensor DitSelfAttention::backward(const Tensor& dy, const ops::RopeGrid& grid, const TokenSplit& split,
                                  const Saved& saved, Gradients& grads) const {
  Communicator& sp = *groups_.sp;
  // Each all-to-all's backward is the opposite all-to-all.
  const Tensor dout = ulysses_tokens_to_heads(split_last(wo_.backward(dy, saved.wo, grads), heads_, head_dim_),
                                              split, sp);
  ops::AttentionGrads g = ops::attention_backward(saved.q, saved.k, saved.v, saved.out, dout, {},
                                                  attention_scale(head_dim_), &saved.lse);
  Tensor dq = ulysses_heads_to_tokens(g.dq, split, sp);
  Tensor dk = ulysses_heads_to_tokens(g.dk, split, sp);
  const Tensor dv = ulysses_heads_to_tokens(g.dv, split, sp);
  const int64_t first = split.offsets[static_cast<size_t>(groups_.sp_rank())];
  ops::rope3d_backward_(dq, grid, first, rope_split_);
  ops::rope3d_backward_(dk, grid, first, rope_split_);
  // Each tp rank normalised only its heads: the norms' weight gradients are summed over tp.
  Communicator& tp = *groups_.tp;
  const Tensor dfused = ops::split_heads_backward({q_norm_.backward(dq, saved.q_norm, grads, tp),
                                                   k_norm_.backward(dk, saved.k_norm, grads, tp), dv});
  return wqkv_.backward(dfused, saved.wqkv, grads);
}

DitCrossAttention::DitCrossAttention(const Scope& scope, int64_t dim, int64_t head_dim,
                                     const ParallelGroups& groups)
    : groups_(groups),
      heads_(local_heads(dim, head_dim, groups)),
      head_dim_(head_dim),
      wq_(scope.child("wq"), dim, dim, false, *groups.tp),
      wkv_(scope.child("wkv"), dim, 2 * dim, false, *groups.tp),
      wo_(scope.child("wo"), dim, dim, false, *groups.tp),
      q_norm_(scope.child("q_norm"), head_dim, kQkNormEps),
      k_norm_(scope.child("k_norm"), head_dim, kQkNormEps) {}

Tensor DitCrossAttention::operator()(const Tensor& x, const Tensor& text,
                                     std::span<const int64_t> kv_lens) const {
  Tensor q = split_last(wq_(x), heads_, head_dim_);
  std::vector<Tensor> kv = ops::split_heads(wkv_(text), heads_, 2);
  q_norm_.apply_(q);
  k_norm_.apply_(kv[0]);
  const Tensor out = ops::attention(q, kv[0], kv[1], kv_lens, attention_scale(head_dim_));
  return wo_(merge_heads(out));
}

Tensor DitCrossAttention::forward(const Tensor& x, const Tensor& text, std::span<const int64_t> kv_lens,
                                  Saved& saved) const {
  Tensor q = split_last(wq_.forward(x, saved.wq), heads_, head_dim_);
  std::vector<Tensor> kv = ops::split_heads(wkv_.forward(text, saved.wkv), heads_, 2);
  q_norm_.apply_(q, saved.q_norm);
  k_norm_.apply_(kv[0], saved.k_norm);
  saved.q = q;
  saved.k = kv[0];
  saved.v = kv[1];
  saved.out = ops::attention(saved.q, saved.k, saved.v, kv_lens, attention_scale(head_dim_), &saved.lse);
  return wo_.forward(merge_heads(saved.out), saved.wo);
}

DitCrossAttention::InputGradients DitCrossAttention::backward(const Tensor& dy,
                                                              std::span<const int64_t> kv_lens,
                                                              const Saved& saved, Gradients& grads) const {
  const Tensor dout = split_last(wo_.backward(dy, saved.wo, grads), heads_, head_dim_);
  const ops::AttentionGrads g = ops::attention_backward(saved.q, saved.k, saved.v, saved.out, dout, kv_lens,
                                                        attention_scale(head_dim_), &saved.lse);
  Communicator& tp = *groups_.tp;
  const Tensor dq = q_norm_.backward(g.dq, saved.q_norm, grads, tp);
  const Tensor dkv = ops::split_heads_backward({k_norm_.backward(g.dk, saved.k_norm, grads, tp), g.dv});
  InputGradients result;
  result.dx = wq_.backward(merge_heads(dq.contiguous()), saved.wq, grads);
  result.dtext = wkv_.backward(dkv, saved.wkv, grads);
  return result;
}

}  // namespace sv
