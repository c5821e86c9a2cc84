#include "stages/decode_stage.h"

#include "io/video_frames.h"

namespace sv {

Tensor DecodeStage::run(const Tensor& latents) const {
  SV_CHECK_AS(InputError, latents.rank() == 5 && latents.dim(0) == 1,
              "latents are {}, expected [1, T, C, h, w]", latents.describe());
  const Tensor video = vae_.decode(latents.to(DType::F32).contiguous());
  return io::frames_to_rgb8(video.select(0, 0));
}

}  // namespace sv
