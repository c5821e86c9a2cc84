#include "layers/norms.h"

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

}  // namespace sv
