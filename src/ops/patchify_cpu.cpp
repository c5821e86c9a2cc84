#include "ops/op_checks.h"
#include "ops/patchify.h"

namespace sv::ops {

namespace {

// How a patch's vector is ordered: (c, ki, kj) as PatchEmbed's conv weight
// flattens, or (ki, kj, c) as proj_out produces it.
enum class PatchVector { ChannelMajor, ChannelMinor };

// Calls f(video_index, token_index) once for every element of an [N, C, H, W]
// stack of frames and its [N * hp * wp, C * p * p] patch tokens: the one
// correspondence that patchify, unpatchify and their backwards copy along.
template <typename F>
void for_each_patch_element(int64_t images, int64_t ch, int64_t h, int64_t w, int64_t p, PatchVector order, F f) {
  const int64_t hp = h / p, wp = w / p, vec = ch * p * p;
#pragma omp parallel for collapse(2) schedule(static) if (images * vec * hp * wp > (1 << 15))
  for (int64_t n = 0; n < images; ++n) {
    for (int64_t i = 0; i < hp; ++i) {
      for (int64_t j = 0; j < wp; ++j) {
        const int64_t token = ((n * hp + i) * wp + j) * vec;
        for (int64_t c = 0; c < ch; ++c) {
          for (int64_t ki = 0; ki < p; ++ki) {
            for (int64_t kj = 0; kj < p; ++kj) {
              const int64_t k = order == PatchVector::ChannelMajor ? (c * p + ki) * p + kj : (ki * p + kj) * ch + c;
              f(((n * ch + c) * h + i * p + ki) * w + j * p + kj, token + k);
            }
          }
        }
      }
    }
  }
}

void check_video(const Tensor& x, int64_t p, const char* op) {
  require_f32_contiguous(x, op, "input");
  SV_CHECK(x.rank() == 5, "{}: input must be [B, F, C, H, W], got {}", op, x.describe());
  SV_CHECK(p >= 1 && x.dim(3) % p == 0 && x.dim(4) % p == 0,
           "{}: height {} and width {} must be multiples of the patch size {}", op, x.dim(3), x.dim(4), p);
}

void check_tokens(const Tensor& y, int64_t frames, int64_t hp, int64_t wp, int64_t p, int64_t channels,
                  const char* op) {
  require_f32_contiguous(y, op, "input");
  SV_CHECK(y.rank() == 3 && y.dim(1) == frames * hp * wp && y.dim(2) == p * p * channels,
           "{}: input {} does not fit {} frames of {}x{} patches of {}x{}x{}", op, y.describe(), frames, hp, wp, p,
           p, channels);
}

}  // namespace

Tensor patchify(const Tensor& x, int64_t p) {
  check_video(x, p, "patchify");
  const int64_t batch = x.dim(0), frames = x.dim(1), ch = x.dim(2), h = x.dim(3), w = x.dim(4);
  Tensor out = Tensor::empty(Shape{batch, frames * (h / p) * (w / p), ch * p * p}, DType::F32);
  const float* xp = x.data<float>();
  float* op = out.data<float>();
  for_each_patch_element(batch * frames, ch, h, w, p, PatchVector::ChannelMajor,
                         [&](int64_t v, int64_t t) { op[t] = xp[v]; });
  return out;
}

Tensor patchify_backward(const Tensor& dy, int64_t frames, int64_t channels, int64_t height, int64_t width,
                         int64_t p) {
  SV_CHECK(p >= 1 && height % p == 0 && width % p == 0,
           "patchify_backward: height {} and width {} must be multiples of the patch size {}", height, width, p);
  check_tokens(dy, frames, height / p, width / p, p, channels, "patchify_backward");
  Tensor dx = Tensor::empty(Shape{dy.dim(0), frames, channels, height, width}, DType::F32);
  const float* gp = dy.data<float>();
  float* dxp = dx.data<float>();
  for_each_patch_element(dy.dim(0) * frames, channels, height, width, p, PatchVector::ChannelMajor,
                         [&](int64_t v, int64_t t) { dxp[v] = gp[t]; });
  return dx;
}

Tensor unpatchify(const Tensor& y, int64_t frames, int64_t hp, int64_t wp, int64_t p, int64_t channels) {
  check_tokens(y, frames, hp, wp, p, channels, "unpatchify");
  Tensor out = Tensor::empty(Shape{y.dim(0), frames, channels, hp * p, wp * p}, DType::F32);
  const float* yp = y.data<float>();
  float* op = out.data<float>();
  for_each_patch_element(y.dim(0) * frames, channels, hp * p, wp * p, p, PatchVector::ChannelMinor,
                         [&](int64_t v, int64_t t) { op[v] = yp[t]; });
  return out;
}

Tensor unpatchify_backward(const Tensor& dvideo, int64_t p) {
  check_video(dvideo, p, "unpatchify_backward");
  const int64_t batch = dvideo.dim(0), frames = dvideo.dim(1), ch = dvideo.dim(2), h = dvideo.dim(3),
                w = dvideo.dim(4);
  Tensor dy = Tensor::empty(Shape{batch, frames * (h / p) * (w / p), p * p * ch}, DType::F32);
  const float* gp = dvideo.data<float>();
  float* dyp = dy.data<float>();
  for_each_patch_element(batch * frames, ch, h, w, p, PatchVector::ChannelMinor,
                         [&](int64_t v, int64_t t) { dyp[t] = gp[v]; });
  return dy;
}

}  // namespace sv::ops
