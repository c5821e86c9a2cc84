#include "io/video_frames.h"

#include <algorithm>

#include "core/error.h"

namespace sv::io {

Tensor frames_to_rgb8(const Tensor& frames) {
  SV_CHECK_AS(InputError, frames.rank() == 4 && frames.dim(1) == 3,
              "decoded frames are {}, expected [T, 3, H, W]", frames.describe());
  const Tensor f = frames.to(DType::F32).contiguous();
  const int64_t t = f.dim(0), h = f.dim(2), w = f.dim(3);
  Tensor out = Tensor::empty(Shape{t, h, w, 3}, DType::U8);
  const float* src = f.data<float>();
  uint8_t* dst = out.data<uint8_t>();
#pragma omp parallel for collapse(2) schedule(static) if (f.numel() > (1 << 16))
  for (int64_t i = 0; i < t; ++i) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        for (int64_t c = 0; c < 3; ++c) {
          const float v = std::clamp(src[((i * 3 + c) * h + y) * w + x], -1.0f, 1.0f);
          const float scaled = std::clamp((v + 1.0f) * 127.5f, 0.0f, 255.0f);
          dst[((i * h + y) * w + x) * 3 + c] = static_cast<uint8_t>(scaled);
        }
      }
    }
  }
  return out;
}

}  // namespace sv::io
