// Pointwise activations, in place on contiguous f32 tensors.
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// GELU with the tanh approximation (torch's approximate="tanh").
void gelu_tanh_(Tensor& x);
// SiLU: x * sigmoid(x).
void silu_(Tensor& x);

}  // namespace sv::ops
