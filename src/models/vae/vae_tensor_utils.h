// Small layout helpers of the Video-VAE: its activations are channel-last
// [N, T, H, W, C] (oneDNN's fast 3D-convolution layout) while its inputs and
// outputs are b t c h w, as AutoencoderKL.encode/decode take and return them.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace sv::vae {

// [T, C, H, W] (one batch item of a b t c h w tensor, any strides) -> [1, T, H, W, C].
Tensor to_channels_last(const Tensor& frames);
// [N, T, H, W, C] -> [N, T, C, H, W] (or -> [N, C, T, H, W] when time_before_channels is false).
Tensor from_channels_last(const Tensor& x, bool time_before_channels = true);

// Concatenation along time of two [N, T, H, W, C] tensors (either may be undefined).
Tensor cat_frames(const Tensor& a, const Tensor& b);
// The same for any number of pieces (undefined ones are skipped; none: undefined).
Tensor cat_frames(const std::vector<Tensor>& pieces);
// acc += x, elementwise; both contiguous f32 of one shape.
void add_in_place(const Tensor& acc, const Tensor& x);

}  // namespace sv::vae
