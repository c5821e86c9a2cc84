// 3D pixel shuffle / unshuffle on channel-last activations [N, T, H, W, C],
// and the parameter-free shortcuts of the Video-VAE v2 built on them.
//
// Channel order follows the upstream views: channel c * f^3 + a * f^2 + b * f + d
// of the packed tensor holds offset (a, b, d) in (t, h, w) of unpacked channel c.
// Nothing here drops or pads frames except where stated: the VAE layers crop
// the first frames themselves, because a streamed decode crops only once.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace sv::ops {

// [N, T, H, W, C f^3] -> [N, f T, f H, f W, C].
Tensor pixel_shuffle3d(const Tensor& x, int64_t factor);

// repeat_interleave every channel R = out_channels f^3 / C times (channel j of
// the repeated tensor is input channel j / R), then pixel_shuffle3d:
// [N, T, H, W, C] -> [N, f T, f H, f W, out_channels].
Tensor channel_dup_shuffle3d(const Tensor& x, int64_t out_channels, int64_t factor);

// Prepend f - 1 zero frames, then the inverse of pixel_shuffle3d:
// [N, T, H, W, C] -> [N, (T + f - 1) / f, H / f, W / f, C f^3].
Tensor pixel_unshuffle3d(const Tensor& x, int64_t factor);

// pixel_unshuffle3d, then the mean over consecutive groups of
// G = C f^3 / out_channels channels: [N, T, H, W, C] -> [N, T', H / f, W / f, out_channels].
Tensor channel_avg_unshuffle3d(const Tensor& x, int64_t out_channels, int64_t factor);

// Nearest-neighbour upsampling by integer factors: frame t -> ft t .. ft t + ft - 1, etc.
Tensor upsample_nearest3d(const Tensor& x, int64_t ft, int64_t fh, int64_t fw);

// Backwards (VAE training): each op is linear, so its backward is its
// adjoint, mapping the output gradient dy back to the input's shape (given
// where dy does not determine it). Gradients of repeated channels or pixels
// are summed; the padding frames of the unshuffles get none.
Tensor pixel_shuffle3d_backward(const Tensor& dy, int64_t factor);
Tensor channel_dup_shuffle3d_backward(const Tensor& dy, int64_t in_channels, int64_t factor);
Tensor pixel_unshuffle3d_backward(const Tensor& dy, const Shape& input_shape, int64_t factor);
Tensor channel_avg_unshuffle3d_backward(const Tensor& dy, const Shape& input_shape, int64_t factor);
Tensor upsample_nearest3d_backward(const Tensor& dy, const Shape& input_shape, int64_t ft, int64_t fh, int64_t fw);

}  // namespace sv::ops
