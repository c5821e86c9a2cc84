#include "models/vae/vae_tensor_utils.h"

#include <algorithm>
#include <cstring>

#include "ops/op_checks.h"

namespace sv::vae {

Tensor to_channels_last(const Tensor& frames) {
  SV_CHECK(frames.rank() == 4, "to_channels_last: expected [T, C, H, W], got {}",
           frames.describe());
  const Tensor x = frames.contiguous().to(DType::F32);
  const int64_t t = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Tensor y = Tensor::empty(Shape{1, t, h, w, c}, DType::F32);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > (1 << 16))
  for (int64_t f = 0; f < t; ++f) {
    for (int64_t p = 0; p < h * w; ++p) {
      for (int64_t ch = 0; ch < c; ++ch)
        yp[(f * h * w + p) * c + ch] = xp[(f * c + ch) * h * w + p];
    }
  }
  return y;
}

Tensor from_channels_last(const Tensor& x, bool time_before_channels) {
  ops::require_f32_contiguous(x, "from_channels_last", "input");
  SV_CHECK(x.rank() == 5, "from_channels_last: expected [N, T, H, W, C], got {}", x.describe());
  const int64_t n = x.dim(0), t = x.dim(1), h = x.dim(2), w = x.dim(3), c = x.dim(4);
  Tensor y =
      Tensor::empty(time_before_channels ? Shape{n, t, c, h, w} : Shape{n, c, t, h, w}, DType::F32);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  const int64_t hw = h * w;
#pragma omp parallel for collapse(3) schedule(static) if (x.numel() > (1 << 16))
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t f = 0; f < t; ++f) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t out_plane =
            time_before_channels ? ((b * t + f) * c + ch) : ((b * c + ch) * t + f);
        float* dst = yp + out_plane * hw;
        const float* src = xp + (b * t + f) * hw * c + ch;
        for (int64_t p = 0; p < hw; ++p) dst[p] = src[p * c];
      }
    }
  }
  return y;
}

Tensor cat_frames(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  ops::require_f32_contiguous(a, "cat_frames", "first");
  ops::require_f32_contiguous(b, "cat_frames", "second");
  SV_CHECK(a.rank() == 5 && b.rank() == 5 && a.dim(0) == 1 && b.dim(0) == 1 &&
               a.dim(2) == b.dim(2) && a.dim(3) == b.dim(3) && a.dim(4) == b.dim(4),
           "cat_frames: {} and {} are not [1, T, H, W, C] of one frame size", a.describe(),
           b.describe());
  Tensor y = Tensor::empty(Shape{1, a.dim(1) + b.dim(1), a.dim(2), a.dim(3), a.dim(4)}, DType::F32);
  std::memcpy(y.data<float>(), a.data<float>(), a.nbytes());
  std::memcpy(y.data<float>() + a.numel(), b.data<float>(), b.nbytes());
  return y;
}

Tensor cat_frames(const std::vector<Tensor>& pieces) {
  Tensor first;
  int64_t frames = 0;
  for (const Tensor& p : pieces) {
    if (!p.defined()) continue;
    ops::require_f32_contiguous(p, "cat_frames", "piece");
    if (!first.defined()) first = p;
    SV_CHECK(p.rank() == 5 && p.dim(0) == 1 && p.dim(2) == first.dim(2) &&
                 p.dim(3) == first.dim(3) && p.dim(4) == first.dim(4),
             "cat_frames: {} and {} are not [1, T, H, W, C] of one frame size", first.describe(),
             p.describe());
    frames += p.dim(1);
  }
  if (!first.defined()) return first;
  Tensor y = Tensor::empty(Shape{1, frames, first.dim(2), first.dim(3), first.dim(4)}, DType::F32);
  float* dst = y.data<float>();
  for (const Tensor& p : pieces) {
    if (!p.defined()) continue;
    std::memcpy(dst, p.data<float>(), p.nbytes());
    dst += p.numel();
  }
  return y;
}

void add_in_place(const Tensor& acc, const Tensor& x) {
  ops::require_f32_contiguous(acc, "add", "accumulator");
  ops::require_f32_contiguous(x, "add", "addend");
  SV_CHECK(acc.shape() == x.shape(), "add: {} + {}", acc.describe(), x.describe());
  float* a = acc.data<float>();
  const float* b = x.data<float>();
  const int64_t n = acc.numel();
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) a[i] += b[i];
}

}  // namespace sv::vae
