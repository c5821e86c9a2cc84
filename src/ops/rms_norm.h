// RMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * weight, with the
// statistics in f32 or better (upstream forces f32 even in bf16 runs).
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// In place on a contiguous f32 tensor [..., d]; weight: f32 [d] or undefined.
void rms_norm_(Tensor& x, const Tensor& weight, float eps);

// Backward of rms_norm_, from the forward's input x (before normalisation)
// and the output gradient dy: returns dx; when dweight is given (f32 [d]),
// adds sum over rows of dy * x_hat to it (training accumulates gradients).
Tensor rms_norm_backward(const Tensor& x, const Tensor& weight, float eps, const Tensor& dy,
                         Tensor* dweight = nullptr);

}  // namespace sv::ops
