// Conversions between latent video [B, F, C, H, W] and patch tokens, in the
// order upstream's PatchEmbed (Conv2d with kernel = stride = p) and its
// unpatchify produce: token = f * (hp * wp) + i * wp + j, patch vector index
// c * p * p + ki * p + kj (the flattening of a [D, C, p, p] conv weight).
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// x: f32 [B, F, C, H, W] -> [B, F * hp * wp, C * p * p].
Tensor patchify(const Tensor& x, int64_t p);
// y: f32 [B, F * hp * wp, p * p * C] with the patch vector ordered (ki, kj, c)
// as proj_out produces it -> [B, F, C, hp * p, wp * p].
Tensor unpatchify(const Tensor& y, int64_t frames, int64_t hp, int64_t wp, int64_t p,
                  int64_t channels);

// Backwards: both ops only move elements, so each backward moves the
// gradient back along the same correspondence.
// dy: [B, F * hp * wp, C * p * p] -> dx: [B, F, C, height, width].
Tensor patchify_backward(const Tensor& dy, int64_t frames, int64_t channels, int64_t height, int64_t width,
                         int64_t p);
// dvideo: [B, F, C, hp * p, wp * p] -> [B, F * hp * wp, p * p * C].
Tensor unpatchify_backward(const Tensor& dvideo, int64_t p);

}  // namespace sv::ops
