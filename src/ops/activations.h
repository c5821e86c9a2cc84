// Pointwise activations, in place on contiguous f32 tensors.
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// GELU with the tanh approximation (torch's approximate="tanh").
void gelu_tanh_(Tensor& x);
// SiLU: x * sigmoid(x).
void silu_(Tensor& x);

// Backwards, from the forward's input x and the output gradient dy: dx.
// The derivative of the exact tanh form, evaluated with the same vectorised
// fast_tanh/fast_exp as the forwards (within float rounding of libm's).
Tensor gelu_tanh_backward(const Tensor& x, const Tensor& dy);
Tensor silu_backward(const Tensor& x, const Tensor& dy);

}  // namespace sv::ops
