// DecodeStage: denoised latents -> 8-bit RGB frames (Video-VAE decode and
// upstream's post-processing).
#pragma once

#include "models/vae/vae_model.h"

namespace sv {

class DecodeStage {
 public:
  explicit DecodeStage(const VaeModel& vae) : vae_(vae) {}
  // latents: f32 [1, T, z, h, w] -> u8 [frames, 16 h, 16 w, 3].
  Tensor run(const Tensor& latents) const;

 private:
  const VaeModel& vae_;
};

}  // namespace sv
