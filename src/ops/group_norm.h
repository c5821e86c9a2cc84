// GroupNorm on channel-last activations, optionally fused with SiLU.
//
// The Video-VAE v2 normalises each frame on its own (statistics over the
// group's channels x H x W of one frame, never over time), which is what
// viewing an [N, T, H, W, C] activation as [N*T, H*W, C] gives.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace sv::ops {

// x: f32 [R, S, C] contiguous (R independent rows of S positions); C splits
// into `groups` consecutive channel groups and each (row, group) is
// normalised over its S x C/groups values with the biased variance, as
// torch.nn.functional.group_norm. weight/bias: f32 [C] (both or neither).
// silu: apply x * sigmoid(x) to the result. Returns f32 [R, S, C].
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                  float eps, bool silu);

// The same, writing into `out` (contiguous, x's shape). out may alias x.
void group_norm_into(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                     float eps, bool silu, const Tensor& out);

// Backward of group_norm (with the same groups, weight, eps and silu), from
// the forward's input x and the output gradient dy: returns dx; adds the
// sums over rows and positions of dz * x_hat to dweight and of dz to dbias
// ([C]; dz is the gradient at the affine's output, through the SiLU when
// fused) when they are given (the affine must then exist). Statistics are
// recomputed from x, in double.
Tensor group_norm_backward(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, float eps,
                           bool silu, const Tensor& dy, Tensor* dweight = nullptr, Tensor* dbias = nullptr);

}  // namespace sv::ops
