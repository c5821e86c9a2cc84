#include "ops/op_checks.h"
#include "ops/patchify.h"

namespace sv::ops {

Tensor patchify(const Tensor& x, int64_t p) {
  require_f32_contiguous(x, "patchify", "input");
  SV_CHECK(x.rank() == 5, "patchify: input must be [B, F, C, H, W], got {}", x.describe());
  const int64_t batch = x.dim(0), frames = x.dim(1), ch = x.dim(2), h = x.dim(3), w = x.dim(4);
  SV_CHECK(p >= 1 && h % p == 0 && w % p == 0,
           "patchify: height {} and width {} must be multiples of the patch size {}", h, w, p);
  const int64_t hp = h / p, wp = w / p, vec = ch * p * p;
  Tensor out = Tensor::empty(Shape{batch, frames * hp * wp, vec}, DType::F32);
  const float* xp = x.data<float>();
  float* op = out.data<float>();
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > (1 << 15))
  for (int64_t n = 0; n < batch * frames; ++n) {
    for (int64_t i = 0; i < hp; ++i) {
      const float* frame = xp + n * ch * h * w;
      for (int64_t j = 0; j < wp; ++j) {
        float* dst = op + ((n * hp + i) * wp + j) * vec;
        for (int64_t c = 0; c < ch; ++c) {
          for (int64_t ki = 0; ki < p; ++ki) {
            for (int64_t kj = 0; kj < p; ++kj) {
              dst[(c * p + ki) * p + kj] = frame[(c * h + i * p + ki) * w + j * p + kj];
            }
          }
        }
      }
    }
  }
  return out;
}

Tensor unpatchify(const Tensor& y, int64_t frames, int64_t hp, int64_t wp, int64_t p,
                  int64_t channels) {
  require_f32_contiguous(y, "unpatchify", "input");
  SV_CHECK(y.rank() == 3 && y.dim(1) == frames * hp * wp && y.dim(2) == p * p * channels,
           "unpatchify: input {} does not fit {} frames of {}x{} patches of {}x{}x{}", y.describe(),
           frames, hp, wp, p, p, channels);
  const int64_t batch = y.dim(0), h = hp * p, w = wp * p;
  Tensor out = Tensor::empty(Shape{batch, frames, channels, h, w}, DType::F32);
  const float* yp = y.data<float>();
  float* op = out.data<float>();
#pragma omp parallel for collapse(2) schedule(static) if (y.numel() > (1 << 15))
  for (int64_t n = 0; n < batch * frames; ++n) {
    for (int64_t i = 0; i < hp; ++i) {
      float* frame = op + n * channels * h * w;
      for (int64_t j = 0; j < wp; ++j) {
        const float* src = yp + ((n * hp + i) * wp + j) * p * p * channels;
        for (int64_t ki = 0; ki < p; ++ki) {
          for (int64_t kj = 0; kj < p; ++kj) {
            for (int64_t c = 0; c < channels; ++c) {
              frame[(c * h + i * p + ki) * w + j * p + kj] = src[(ki * p + kj) * channels + c];
            }
          }
        }
      }
    }
  }
  return out;
}

}  // namespace sv::ops
