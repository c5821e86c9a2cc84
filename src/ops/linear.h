// y = x W^T + b over the last axis, as torch.nn.Linear: W is [out, in].
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// x: f32 [..., in] contiguous; weight: f32 [out, in]; bias: f32 [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// Same, writing into y ([..., out], contiguous); accumulate adds into y.
void linear_into(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& y,
                 bool accumulate = false);

}  // namespace sv::ops
