// LayerNorm over the last axis, with or without the elementwise affine.
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// x: f32 [..., d]; weight/bias: f32 [d] or undefined (no affine).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);

}  // namespace sv::ops
