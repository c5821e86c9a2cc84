// RMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * weight, with the
// statistics in f32 or better (upstream forces f32 even in bf16 runs).
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// In place on a contiguous f32 tensor [..., d]; weight: f32 [d] or undefined.
void rms_norm_(Tensor& x, const Tensor& weight, float eps);

}  // namespace sv::ops
