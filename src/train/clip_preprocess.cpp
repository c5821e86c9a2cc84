#include "train/clip_preprocess.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace sv::train {

namespace {

// One frame u8 [H, W, 3] -> f32 planes [3, height, width] in [-1, 1]: scale to
// cover, crop the centre. Each target pixel is a tent-weighted average of the
// source pixels under its footprint (bilinear when enlarging), so shrinking
// does not alias.
void resize_crop(const uint8_t* src, int64_t h, int64_t w, int64_t height, int64_t width, float* dst) {
  const double scale = std::max(static_cast<double>(height) / static_cast<double>(h),
                                static_cast<double>(width) / static_cast<double>(w));
  const double off_y = (static_cast<double>(h) * scale - static_cast<double>(height)) / 2.0;
  const double off_x = (static_cast<double>(w) * scale - static_cast<double>(width)) / 2.0;
  const double foot = std::max(1.0, 1.0 / scale);  // source pixels per target pixel
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      // The target pixel's centre in source coordinates.
      const double cy = (static_cast<double>(y) + 0.5 + off_y) / scale - 0.5;
      const double cx = (static_cast<double>(x) + 0.5 + off_x) / scale - 0.5;
      double acc[3] = {0, 0, 0}, weight = 0;
      const auto y0 = static_cast<int64_t>(std::floor(cy - foot / 2)), y1 = static_cast<int64_t>(std::ceil(cy + foot / 2));
      const auto x0 = static_cast<int64_t>(std::floor(cx - foot / 2)), x1 = static_cast<int64_t>(std::ceil(cx + foot / 2));
      for (int64_t sy = y0; sy <= y1; ++sy) {
        const double wy = std::max(0.0, 1.0 - std::fabs(static_cast<double>(sy) - cy) / foot);
        if (wy == 0) continue;
        const int64_t yy = std::clamp<int64_t>(sy, 0, h - 1);
        for (int64_t sx = x0; sx <= x1; ++sx) {
          const double wx = std::max(0.0, 1.0 - std::fabs(static_cast<double>(sx) - cx) / foot);
          if (wx == 0) continue;
          const int64_t xx = std::clamp<int64_t>(sx, 0, w - 1);
          const uint8_t* p = src + (yy * w + xx) * 3;
          for (int c = 0; c < 3; ++c) acc[c] += wy * wx * p[c];
          weight += wy * wx;
        }
      }
      for (int c = 0; c < 3; ++c) {
        dst[(c * height + y) * width + x] = static_cast<float>(acc[c] / weight / 127.5 - 1.0);
      }
    }
  }
}

void check_geometry(const Tensor& rgb, const ClipGeometry& g) {
  SV_CHECK(rgb.dtype() == DType::U8 && rgb.rank() == 4 && rgb.dim(3) == 3, "clip: expected u8 [T, H, W, 3], got {}",
           rgb.describe());
  SV_CHECK_AS(InputError, g.height > 0 && g.width > 0 && g.frames > 0 && g.stride > 0,
              "clip geometry {}x{}x{} (stride {}) must be positive", g.frames, g.height, g.width, g.stride);
}

}  // namespace

Tensor prepare_clip(const Tensor& rgb, const ClipGeometry& g, const std::string& what) {
  check_geometry(rgb, g);
  const int64_t needed = (g.frames - 1) * g.stride + 1;
  SV_CHECK_AS(InputError, rgb.dim(0) >= needed, "{}: {} frames, too short: --frames {} (stride {}) needs {}", what,
              rgb.dim(0), g.frames, g.stride, needed);
  const int64_t h = rgb.dim(1), w = rgb.dim(2);
  Tensor out = Tensor::empty(Shape{1, g.frames, 3, g.height, g.width}, DType::F32);
  const Tensor src = rgb.contiguous();
  for (int64_t f = 0; f < g.frames; ++f) {
    resize_crop(src.data<uint8_t>() + f * g.stride * h * w * 3, h, w, g.height, g.width,
                out.data<float>() + f * 3 * g.height * g.width);
  }
  return out;
}

Tensor prepare_still(const Tensor& rgb, const ClipGeometry& g, int64_t frames) {
  check_geometry(rgb, g);
  const Tensor src = rgb.contiguous();
  Tensor out = Tensor::empty(Shape{1, frames, 3, g.height, g.width}, DType::F32);
  const int64_t plane = 3 * g.height * g.width;
  resize_crop(src.data<uint8_t>(), rgb.dim(1), rgb.dim(2), g.height, g.width, out.data<float>());
  for (int64_t f = 1; f < frames; ++f) std::copy_n(out.data<float>(), plane, out.data<float>() + f * plane);
  return out;
}

}  // namespace sv::train
