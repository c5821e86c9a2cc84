// AdaLN-single modulation and gating, as the DiT blocks use them.
// shift/scale/gate are [B, D] views (last axis contiguous, any batch stride):
// rows of the per-block [B, 6, D] table are passed without copying.
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// x[b, s, :] = x[b, s, :] * (1 + scale[b, :]) + shift[b, :], in place; x: [B, S, D].
void modulate_(Tensor& x, const Tensor& shift, const Tensor& scale);
// x[b, s, :] += gate[b, :] * y[b, s, :]; gate undefined means a plain residual.
void gated_residual_(Tensor& x, const Tensor& y, const Tensor& gate);

// Backward of modulate_, from the forward's input x: returns dx = dy * (1 +
// scale) and adds sum over s of dy to dshift and of dy * x to dscale ([B, D]
// views like the forward's, e.g. rows of the [B, 6, D] table's gradient).
Tensor modulate_backward(const Tensor& x, const Tensor& scale, const Tensor& dy, Tensor& dshift, Tensor& dscale);
// Backward of gated_residual_ (x += gate * y): the residual passes dout
// through unchanged; returns the update's gradient gate * dout (dout itself
// without a gate) and adds sum over s of dout * y to dgate when a gate is defined.
Tensor gated_residual_backward(const Tensor& y, const Tensor& gate, const Tensor& dout, Tensor* dgate = nullptr);

}  // namespace sv::ops
