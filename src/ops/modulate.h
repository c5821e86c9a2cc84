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

}  // namespace sv::ops
