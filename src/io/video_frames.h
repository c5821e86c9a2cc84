// Decoded video as the pipeline hands it to the writer: upstream's
// post-processing of VAE output to 8-bit RGB.
#pragma once

#include "core/tensor.h"

namespace sv::io {

// frames: f32 [T, 3, H, W] in about [-1, 1] (VAE output) -> u8 [T, H, W, 3] as
// upstream VideoProcessor does: (clamp(x, -1, 1) + 1) * 127.5, clamp to [0, 255],
// then truncation toward zero (torch's .to(uint8)), not rounding.
Tensor frames_to_rgb8(const Tensor& frames);

}  // namespace sv::io
