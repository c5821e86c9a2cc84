// LayerNorm over the last axis, with or without the elementwise affine.
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// x: f32 [..., d]; weight/bias: f32 [d] or undefined (no affine).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);

// Backward, from the forward's input x and the output gradient dy: returns
// dx; adds sum over rows of dy * x_hat to dweight and of dy to dbias ([d])
// when they are given (the affine must then exist).
Tensor layer_norm_backward(const Tensor& x, const Tensor& weight, float eps, const Tensor& dy,
                           Tensor* dweight = nullptr, Tensor* dbias = nullptr);

}  // namespace sv::ops
