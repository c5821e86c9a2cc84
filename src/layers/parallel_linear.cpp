#include "layers/parallel_linear.h"

#include "core/error.h"
#include "layers/gradients.h"

namespace sv {

namespace {

void require_split(int64_t features, const Communicator& tp, const Scope& scope) {
  SV_CHECK_AS(ConfigError, features % tp.size() == 0, "{}: {} features do not split over tp={}",
              scope.name("weight"), features, tp.size());
}

void sum_over(Communicator& group, Tensor& t) {
  if (group.size() > 1) group.all_reduce_sum(t.data<float>(), t.numel());
}

}  // namespace

ColumnParallelLinear::ColumnParallelLinear(const Scope& scope, int64_t in, int64_t out, bool bias,
                                           Communicator& tp)
    : tp_(&tp), local_((require_split(out, tp, scope), scope), in, out, bias,
                       Shard::columns(tp.size(), tp.rank())) {}

Tensor ColumnParallelLinear::backward(const Tensor& dy, const Saved& saved, Gradients& grads) const {
  Tensor dx = local_.backward(dy, saved, grads);
  sum_over(*tp_, dx);
  return dx;
}

RowParallelLinear::RowParallelLinear(const Scope& scope, int64_t in, int64_t out, bool bias,
                                     Communicator& tp)
    : tp_(&tp), local_((require_split(in, tp, scope), scope), in, out, false,
                       Shard::rows(tp.size(), tp.rank())) {
  // Every rank holds the whole bias: it is added once, after the reduction.
  if (bias) bias_ = &scope.param("bias", Shape{out}, Init::Bias);
}

Tensor RowParallelLinear::add_bias(Tensor y) const {
  if (!bias_) return y;
  const float* b = bias_->value.data<float>();
  float* p = y.data<float>();
  const int64_t out = bias_->value.numel(), rows = y.numel() / out;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < out; ++i) p[r * out + i] += b[i];
  }
  return y;
}

Tensor RowParallelLinear::operator()(const Tensor& x) const {
  Tensor y = local_(x);
  sum_over(*tp_, y);
  return add_bias(std::move(y));
}

Tensor RowParallelLinear::forward(const Tensor& x, Saved& saved) const {
  Tensor y = local_.forward(x, saved);
  sum_over(*tp_, y);
  return add_bias(std::move(y));
}

Tensor RowParallelLinear::backward(const Tensor& dy, const Saved& saved, Gradients& grads) const {
  if (bias_) {
    // The bias gradient is the column sum of dy, the same on every rank.
    Tensor& db = grads.of(*bias_);
    const int64_t out = db.numel(), rows = dy.numel() / out;
    const Tensor dyc = dy.contiguous();
    const float* g = dyc.data<float>();
    float* d = db.data<float>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < out; ++i) d[i] += g[r * out + i];
    }
  }
  return local_.backward(dy, saved, grads);
}

}  // namespace sv
