// y = x W^T + b over the last axis, as torch.nn.Linear: W is [out, in].
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// x: f32 [..., in] contiguous; weight: f32 [out, in]; bias: f32 [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// Same, writing into y ([..., out], contiguous); accumulate adds into y.
void linear_into(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& y,
                 bool accumulate = false);

// Backward of linear, from the forward's input x and the output gradient dy
// ([..., out]): returns dx = dy W ([..., in]); adds dy^T x to dweight ([out,
// in]) and the column sums of dy to dbias ([out]) when they are given.
// Only the parameter half of linear_backward, for a layer whose input needs no
// gradient (the model's inputs): skips the dx product.
void linear_parameter_gradients(const Tensor& x, const Tensor& weight, const Tensor& dy, Tensor* dweight,
                                Tensor* dbias = nullptr);
Tensor linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, Tensor* dweight = nullptr,
                       Tensor* dbias = nullptr);

}  // namespace sv::ops
