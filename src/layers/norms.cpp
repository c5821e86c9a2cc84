#include "layers/norms.h"

#include "layers/gradients.h"
#include "ops/accumulate.h"
#include "ops/layer_norm.h"
#include "ops/rms_norm.h"

namespace sv {

LayerNorm::LayerNorm(const Scope& scope, int64_t dim, float eps, bool affine) : eps_(eps) {
  if (affine) {
    weight_ = &scope.param("weight", Shape{dim}, Init::Ones);
    bias_ = &scope.param("bias", Shape{dim}, Init::Bias);
  }
}

Tensor LayerNorm::operator()(const Tensor& x) const {
  return ops::layer_norm(x, weight_ ? weight_->value : Tensor(), bias_ ? bias_->value : Tensor(),
                         eps_);
}

RMSNorm::RMSNorm(const Scope& scope, int64_t dim, float eps) : eps_(eps) {
  weight_ = &scope.param("weight", Shape{dim}, Init::Ones);
}

void RMSNorm::apply_(Tensor& x) const { ops::rms_norm_(x, weight_->value, eps_); }

Tensor LayerNorm::forward(const Tensor& x, Saved& saved) const {
  saved.x = x;
  return (*this)(x);
}

Tensor LayerNorm::backward(const Tensor& dy, const Saved& saved, Gradients& grads) const {
  return ops::layer_norm_backward(saved.x, weight_ ? weight_->value : Tensor(), eps_, dy,
                                  weight_ ? &grads.of(*weight_) : nullptr, bias_ ? &grads.of(*bias_) : nullptr);
}

void RMSNorm::apply_(Tensor& x, Saved& saved) const {
  saved.x = x.clone();
  apply_(x);
}

Tensor RMSNorm::backward(const Tensor& dy, const Saved& saved, Gradients& grads) const {
  return ops::rms_norm_backward(saved.x, weight_->value, eps_, dy, &grads.of(*weight_));
}

Tensor RMSNorm::backward(const Tensor& dy, const Saved& saved, Gradients& grads, Communicator& group) const {
  if (group.size() == 1) return backward(dy, saved, grads);
  Tensor mine = Tensor::zeros(weight_->value.shape(), DType::F32);
  Tensor dx = ops::rms_norm_backward(saved.x, weight_->value, eps_, dy, &mine);
  group.all_reduce_sum(mine.data<float>(), mine.numel());
  ops::accumulate_(grads.of(*weight_), mine);
  return dx;
}

}  // namespace sv
