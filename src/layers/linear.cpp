#include "layers/linear.h"

#include "core/error.h"
#include "layers/gradients.h"
#include "ops/linear.h"

namespace sv {

Linear::Linear(const Scope& scope, int64_t in, int64_t out, bool bias, Shard shard)
    : in_(in), out_(out) {
  weight_ = &scope.param("weight", Shape{out, in}, Init::FanIn, shard);
  weight_->convert_on_use = true;
  if (bias) {
    // A row-parallel linear adds its bias once, after the reduction: every
    // rank holds all of it. A column-parallel one holds its slice.
    const Shard bias_shard = shard.dim == 0 ? shard : Shard::replicated();
    bias_ = &scope.param("bias", Shape{out}, Init::Bias, bias_shard);
  }
}

Tensor Linear::operator()(const Tensor& x) const {
  const Tensor& w = weight_->value;
  // A weight kept in bf16 (LoadOptions::keep_stored_dtype) is widened for this call only.
  const Tensor w32 = w.dtype() == DType::F32 ? w : w.to(DType::F32);
  return ops::linear(x, w32, bias_ ? bias_->value : Tensor());
}

Tensor Linear::forward(const Tensor& x, Saved& saved) const {
  SV_CHECK(weight_->value.dtype() == DType::F32, "{}: training needs f32 weights, got {}", weight_->name,
           weight_->value.describe());
  saved.x = x;
  return ops::linear(x, weight_->value, bias_ ? bias_->value : Tensor());
}

Tensor Linear::backward(const Tensor& dy, const Saved& saved, Gradients& grads) const {
  return ops::linear_backward(saved.x, weight_->value, dy, &grads.of(*weight_), bias_ ? &grads.of(*bias_) : nullptr);
}

void Linear::backward_parameters(const Tensor& dy, const Saved& saved, Gradients& grads) const {
  ops::linear_parameter_gradients(saved.x, weight_->value, dy, &grads.of(*weight_), bias_ ? &grads.of(*bias_) : nullptr);
}

}  // namespace sv
