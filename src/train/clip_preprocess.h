// How encode-dataset turns a decoded video or image into the VAE's input
// (README "Training", frame policy):
//   - frames: the first `frames` frames of a video, every `stride`-th one
//     (stride 1: consecutive); a video with fewer is a bad item. An image is
//     one frame, repeated to fill the VAE's first chunk; only the first
//     latent frame is kept (a 1-frame sample).
//   - size: scaled (a tent filter over the source pixels a target pixel
//     covers; bilinear when enlarging) so it covers height x width keeping its aspect ratio,
//     then the centre is cropped.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace sv::train {

struct ClipGeometry {
  int64_t height = 64, width = 64, frames = 17, stride = 1;
};

// rgb: u8 [T, H, W, 3] -> f32 [1, frames, 3, height, width] in [-1, 1].
// InputError (naming `what`) when the video is too short.
Tensor prepare_clip(const Tensor& rgb, const ClipGeometry& geometry, const std::string& what);

// The same image in every one of `frames` frames.
Tensor prepare_still(const Tensor& rgb, const ClipGeometry& geometry, int64_t frames);

}  // namespace sv::train
