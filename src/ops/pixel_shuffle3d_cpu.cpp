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

// The adjoint of shuffle_gather: dx[packed channel (c f^3 + offset) / repeats]
// += dy[c]. Repeated channels of different offsets land on one input value,
// so threads split the input frames, never the offsets.
Tensor shuffle_scatter(const Tensor& dy, int64_t in_channels, int64_t f, int64_t repeats, const char* op) {
  const Dims out = dims_of(dy, op);
  SV_CHECK(f >= 1 && out.t % f == 0 && out.h % f == 0 && out.w % f == 0, "{}: gradient {} does not divide by {}", op,
           dy.describe(), f);
  const int64_t f3 = f * f * f, t_in = out.t / f, h_in = out.h / f, w_in = out.w / f;
  Tensor dx = Tensor::zeros(Shape{out.n, t_in, h_in, w_in, in_channels}, DType::F32);
  const float* gp = dy.data<float>();
  float* xp = dx.data<float>();
#pragma omp parallel for collapse(2) schedule(static) if (dy.numel() > (1 << 16))
  for (int64_t n = 0; n < out.n; ++n) {
    for (int64_t t = 0; t < t_in; ++t) {
      for (int64_t a = 0; a < f; ++a) {
        const int64_t to = t * f + a;
        for (int64_t yo = 0; yo < out.h; ++yo) {
          for (int64_t xo = 0; xo < out.w; ++xo) {
            const float* src = gp + (((n * out.t + to) * out.h + yo) * out.w + xo) * out.c;
            float* dst = xp + (((n * t_in + t) * h_in + yo / f) * w_in + xo / f) * in_channels;
            const int64_t offset = (a * f + yo % f) * f + xo % f;
            for (int64_t c = 0; c < out.c; ++c) dst[(c * f3 + offset) / repeats] += src[c];
          }
        }
      }
    }
  }
  return dx;
}

}  // namespace

Tensor pixel_shuffle3d_backward(const Tensor& dy, int64_t factor) {
  const int64_t f3 = factor * factor * factor;
  return shuffle_scatter(dy, dims_of(dy, "pixel_shuffle3d_backward").c * f3, factor, 1, "pixel_shuffle3d_backward");
}

Tensor channel_dup_shuffle3d_backward(const Tensor& dy, int64_t in_channels, int64_t factor) {
  const int64_t f3 = factor * factor * factor, out_channels = dims_of(dy, "channel_dup_shuffle3d_backward").c;
  SV_CHECK(in_channels > 0 && (out_channels * f3) % in_channels == 0,
           "channel_dup_shuffle3d_backward: {} x {} channels do not repeat {} input channels evenly", out_channels, f3,
           in_channels);
  return shuffle_scatter(dy, in_channels, factor, out_channels * f3 / in_channels, "channel_dup_shuffle3d_backward");
}

Tensor pixel_unshuffle3d_backward(const Tensor& dy, const Shape& input_shape, int64_t factor) {
  const Dims g = dims_of(dy, "pixel_unshuffle3d_backward");
  const int64_t f = factor, f3 = f * f * f;
  SV_CHECK(input_shape.rank() == 5 && f >= 1 && (input_shape[1] + f - 1) / f == g.t && input_shape[2] / f == g.h &&
               input_shape[3] / f == g.w && input_shape[4] * f3 == g.c,
           "pixel_unshuffle3d_backward: gradient {} for input {}", dy.describe(), input_shape.str());
  const int64_t t_in = input_shape[1], h_in = input_shape[2], w_in = input_shape[3], c_in = input_shape[4];
  Tensor dx = Tensor::empty(input_shape, DType::F32);
  const float* gp = dy.data<float>();
  float* xp = dx.data<float>();
#pragma omp parallel for collapse(2) schedule(static) if (dx.numel() > (1 << 16))
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t ti = 0; ti < t_in; ++ti) {
      const int64_t tp = ti + f - 1, t = tp / f, a = tp % f;  // its frame among the zero-padded ones
      for (int64_t yi = 0; yi < h_in; ++yi) {
        for (int64_t xi = 0; xi < w_in; ++xi) {
          const float* src = gp + (((n * g.t + t) * g.h + yi / f) * g.w + xi / f) * g.c;
          float* dst = xp + (((n * t_in + ti) * h_in + yi) * w_in + xi) * c_in;
          const int64_t offset = (a * f + yi % f) * f + xi % f;
          for (int64_t c = 0; c < c_in; ++c) dst[c] = src[c * f3 + offset];
        }
      }
    }
  }
  return dx;
}

Tensor channel_avg_unshuffle3d_backward(const Tensor& dy, const Shape& input_shape, int64_t factor) {
  const Dims g = dims_of(dy, "channel_avg_unshuffle3d_backward");
  SV_CHECK(input_shape.rank() == 5, "channel_avg_unshuffle3d_backward: input shape {}", input_shape.str());
  const int64_t f3 = factor * factor * factor, packed = input_shape[4] * f3;
  SV_CHECK(packed % g.c == 0, "channel_avg_unshuffle3d_backward: {} channels do not average into {}", packed, g.c);
  const int64_t group = packed / g.c, pixels = dy.numel() / g.c;
  Tensor du = Tensor::empty(Shape{g.n, g.t, g.h, g.w, packed}, DType::F32);
  const float* gp = dy.data<float>();
  float* up = du.data<float>();
  const float inv = 1.0f / static_cast<float>(group);
  for (int64_t p = 0; p < pixels; ++p) {
    for (int64_t o = 0; o < g.c; ++o) {
      for (int64_t j = 0; j < group; ++j) up[(p * g.c + o) * group + j] = gp[p * g.c + o] * inv;
    }
  }
  return pixel_unshuffle3d_backward(du, input_shape, factor);
}

Tensor upsample_nearest3d_backward(const Tensor& dy, const Shape& input_shape, int64_t ft, int64_t fh, int64_t fw) {
  const Dims g = dims_of(dy, "upsample_nearest3d_backward");
  SV_CHECK(input_shape.rank() == 5 && ft >= 1 && fh >= 1 && fw >= 1 && input_shape[0] == g.n &&
               input_shape[1] * ft == g.t && input_shape[2] * fh == g.h && input_shape[3] * fw == g.w &&
               input_shape[4] == g.c,
           "upsample_nearest3d_backward: gradient {} for input {} and factors {}x{}x{}", dy.describe(),
           input_shape.str(), ft, fh, fw);
  Tensor dx = Tensor::zeros(input_shape, DType::F32);
  const float* gp = dy.data<float>();
  float* xp = dx.data<float>();
  const int64_t t_in = input_shape[1], h_in = input_shape[2], w_in = input_shape[3];
#pragma omp parallel for collapse(2) schedule(static) if (dy.numel() > (1 << 16))
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t t = 0; t < t_in; ++t) {
      for (int64_t to = t * ft; to < (t + 1) * ft; ++to) {
        for (int64_t yo = 0; yo < g.h; ++yo) {
          for (int64_t xo = 0; xo < g.w; ++xo) {
            const float* src = gp + (((n * g.t + to) * g.h + yo) * g.w + xo) * g.c;
            float* dst = xp + (((n * t_in + t) * h_in + yo / fh) * w_in + xo / fw) * g.c;
            for (int64_t c = 0; c < g.c; ++c) dst[c] += src[c];
          }
        }
      }
    }
  }
  return dx;
}

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
