#include <algorithm>
#include <vector>

#include "ops/op_checks.h"
#include "ops/pixel_shuffle3d.h"

namespace sv::ops {

namespace {

struct Dims {
  int64_t n, t, h, w, c;
};

Dims dims_of(const Tensor& x, const char* op) {
  require_f32_contiguous(x, op, "input");
  SV_CHECK(x.rank() == 5, "{}: input must be [N, T, H, W, C], got {}", op, x.describe());
  return {x.dim(0), x.dim(1), x.dim(2), x.dim(3), x.dim(4)};
}

// Shuffle where packed channel j reads input channel j / repeats (1: plain shuffle).
Tensor shuffle_gather(const Tensor& x, int64_t out_channels, int64_t f, int64_t repeats) {
  const Dims in = dims_of(x, "pixel_shuffle3d");
  const int64_t f3 = f * f * f;
  Tensor y = Tensor::empty(Shape{in.n, in.t * f, in.h * f, in.w * f, out_channels}, DType::F32);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  const int64_t oh = in.h * f, ow = in.w * f, ot = in.t * f;
#pragma omp parallel for collapse(2) schedule(static) if (y.numel() > (1 << 16))
  for (int64_t n = 0; n < in.n; ++n) {
    for (int64_t to = 0; to < ot; ++to) {
      const int64_t t = to / f, a = to % f;
      for (int64_t yo = 0; yo < oh; ++yo) {
        const int64_t yi = yo / f, b = yo % f;
        for (int64_t xo = 0; xo < ow; ++xo) {
          const int64_t xi = xo / f, d = xo % f;
          const float* src = xp + (((n * in.t + t) * in.h + yi) * in.w + xi) * in.c;
          float* dst = yp + (((n * ot + to) * oh + yo) * ow + xo) * out_channels;
          const int64_t offset = (a * f + b) * f + d;
          for (int64_t c = 0; c < out_channels; ++c) dst[c] = src[(c * f3 + offset) / repeats];
        }
      }
    }
  }
  return y;
}

}  // namespace

Tensor pixel_shuffle3d(const Tensor& x, int64_t factor) {
  const Dims in = dims_of(x, "pixel_shuffle3d");
  const int64_t f3 = factor * factor * factor;
  SV_CHECK(factor >= 1 && in.c % f3 == 0, "pixel_shuffle3d: {} channels are not a multiple of {}",
           in.c, f3);
  return shuffle_gather(x, in.c / f3, factor, 1);
}

Tensor channel_dup_shuffle3d(const Tensor& x, int64_t out_channels, int64_t factor) {
  const Dims in = dims_of(x, "channel_dup_shuffle3d");
  const int64_t f3 = factor * factor * factor;
  SV_CHECK(factor >= 1 && out_channels > 0 && (out_channels * f3) % in.c == 0,
           "channel_dup_shuffle3d: {} x {} channels do not repeat {} input channels evenly",
           out_channels, f3, in.c);
  return shuffle_gather(x, out_channels, factor, out_channels * f3 / in.c);
}

Tensor pixel_unshuffle3d(const Tensor& x, int64_t factor) {
  const Dims in = dims_of(x, "pixel_unshuffle3d");
  const int64_t f = factor, f3 = f * f * f;
  const int64_t tp = in.t + f - 1;
  SV_CHECK(f >= 1 && tp % f == 0 && in.h % f == 0 && in.w % f == 0,
           "pixel_unshuffle3d: {} (with {} zero frames in front) does not divide by {}",
           x.describe(), f - 1, f);
  const int64_t ot = tp / f, oh = in.h / f, ow = in.w / f, oc = in.c * f3;
  Tensor y = Tensor::empty(Shape{in.n, ot, oh, ow, oc}, DType::F32);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
#pragma omp parallel for collapse(2) schedule(static) if (y.numel() > (1 << 16))
  for (int64_t n = 0; n < in.n; ++n) {
    for (int64_t t = 0; t < ot; ++t) {
      for (int64_t yo = 0; yo < oh; ++yo) {
        for (int64_t xo = 0; xo < ow; ++xo) {
          float* dst = yp + (((n * ot + t) * oh + yo) * ow + xo) * oc;
          for (int64_t a = 0; a < f; ++a) {
            const int64_t ti = f * t + a - (f - 1);  // negative: a padding frame
            for (int64_t b = 0; b < f; ++b) {
              for (int64_t d = 0; d < f; ++d) {
                const int64_t offset = (a * f + b) * f + d;
                if (ti < 0) {
                  for (int64_t c = 0; c < in.c; ++c) dst[c * f3 + offset] = 0.0f;
                  continue;
                }
                const float* src =
                    xp + (((n * in.t + ti) * in.h + f * yo + b) * in.w + f * xo + d) * in.c;
                for (int64_t c = 0; c < in.c; ++c) dst[c * f3 + offset] = src[c];
              }
            }
          }
        }
      }
    }
  }
  return y;
}

Tensor channel_avg_unshuffle3d(const Tensor& x, int64_t out_channels, int64_t factor) {
  const Dims in = dims_of(x, "channel_avg_unshuffle3d");
  const int64_t f3 = factor * factor * factor;
  SV_CHECK(out_channels > 0 && (in.c * f3) % out_channels == 0,
           "channel_avg_unshuffle3d: {} x {} channels do not average into {} groups", in.c, f3,
           out_channels);
  const Tensor u = pixel_unshuffle3d(x, factor);
  const int64_t group = in.c * f3 / out_channels;
  const int64_t pixels = u.numel() / u.dim(4);
  Tensor y = Tensor::empty(Shape{u.dim(0), u.dim(1), u.dim(2), u.dim(3), out_channels}, DType::F32);
  const float* up = u.data<float>();
  float* yp = y.data<float>();
  const float inv = 1.0f / static_cast<float>(group);
#pragma omp parallel for schedule(static) if (u.numel() > (1 << 16))
  for (int64_t p = 0; p < pixels; ++p) {
    for (int64_t o = 0; o < out_channels; ++o) {
      const float* src = up + (p * out_channels + o) * group;
      double sum = 0.0;
      for (int64_t j = 0; j < group; ++j) sum += src[j];
      yp[p * out_channels + o] = static_cast<float>(sum) * inv;
    }
  }
  return y;
}

Tensor upsample_nearest3d(const Tensor& x, int64_t ft, int64_t fh, int64_t fw) {
  const Dims in = dims_of(x, "upsample_nearest3d");
  SV_CHECK(ft >= 1 && fh >= 1 && fw >= 1, "upsample_nearest3d: factors must be positive");
  const int64_t ot = in.t * ft, oh = in.h * fh, ow = in.w * fw;
  Tensor y = Tensor::empty(Shape{in.n, ot, oh, ow, in.c}, DType::F32);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
#pragma omp parallel for collapse(2) schedule(static) if (y.numel() > (1 << 16))
  for (int64_t n = 0; n < in.n; ++n) {
    for (int64_t to = 0; to < ot; ++to) {
      for (int64_t yo = 0; yo < oh; ++yo) {
        const float* src_row = xp + ((n * in.t + to / ft) * in.h + yo / fh) * in.w * in.c;
        float* dst = yp + ((n * ot + to) * oh + yo) * ow * in.c;
        for (int64_t xo = 0; xo < ow; ++xo) {
          std::copy_n(src_row + (xo / fw) * in.c, in.c, dst + xo * in.c);
        }
      }
    }
  }
  return y;
}

}  // namespace sv::ops
