#include "models/vae/vae_spatial_tiles.h"

#include <algorithm>

#include "core/error.h"

namespace sv::vae {

void SpatialTiling::validate() const {
  SV_CHECK_AS(ConfigError, tile >= 0, "VAE tiling: the tile ({}) must be 0 (off) or positive, in latent positions",
              tile);
  if (!enabled()) return;
  SV_CHECK_AS(ConfigError, overlap > 0 && overlap * 2 <= tile,
              "VAE tiling: the overlap ({}) must be positive and at most half the tile ({}), in "
              "latent positions",
              overlap, tile);
}

std::vector<TileSpan> tile_spans(int64_t size, const SpatialTiling& tiling) {
  if (!tiling.enabled() || size <= tiling.tile) return {TileSpan{0, size}};
  std::vector<TileSpan> spans;
  const int64_t step = tiling.tile - tiling.overlap;
  for (int64_t begin = 0;; begin += step) {
    if (begin + tiling.tile >= size) {
      spans.push_back({size - tiling.tile, size});
      return spans;
    }
    spans.push_back({begin, begin + tiling.tile});
  }
}

TileBlender::TileBlender(int64_t frames, int64_t height, int64_t width, int64_t channels,
                         int64_t ramp_pixels)
    : sum_(Tensor::zeros(Shape{1, frames, height, width, channels}, DType::F32)),
      weight_(Tensor::zeros(Shape{height, width}, DType::F32)),
      ramp_(ramp_pixels) {}

float TileBlender::ramp(int64_t pos, int64_t begin, int64_t end, int64_t size) const {
  // Pixel centres: the ramps of two tiles sharing exactly ramp_ pixels sum to 1.
  float w = 1.0f;
  const auto r = static_cast<float>(ramp_);
  if (begin > 0) w = std::min(w, (static_cast<float>(pos - begin) + 0.5f) / r);
  if (end < size) w = std::min(w, (static_cast<float>(end - pos) - 0.5f) / r);
  return w;
}

void TileBlender::add(const Tensor& tile, int64_t y0, int64_t x0) {
  const int64_t frames = sum_.dim(1), height = sum_.dim(2), width = sum_.dim(3),
                channels = sum_.dim(4);
  const int64_t th = tile.dim(2), tw = tile.dim(3);
  SV_CHECK(tile.rank() == 5 && tile.dim(1) == frames && tile.dim(4) == channels &&
               y0 + th <= height && x0 + tw <= width,
           "VAE tiling: tile {} at ({}, {}) does not fit the frames {}", tile.describe(), y0, x0,
           sum_.describe());
  const Tensor t = tile.contiguous();
  const float* src = t.data<float>();
  float* dst = sum_.data<float>();
  float* wsum = weight_.data<float>();
  for (int64_t y = 0; y < th; ++y) {
    const float wy = ramp(y0 + y, y0, y0 + th, height);
    for (int64_t x = 0; x < tw; ++x) {
      const float w = wy * ramp(x0 + x, x0, x0 + tw, width);
      wsum[(y0 + y) * width + x0 + x] += w;
      for (int64_t f = 0; f < frames; ++f) {
        const float* s = src + ((f * th + y) * tw + x) * channels;
        float* d = dst + ((f * height + y0 + y) * width + x0 + x) * channels;
        for (int64_t c = 0; c < channels; ++c) d[c] += w * s[c];
      }
    }
  }
}

Tensor TileBlender::finish() {
  const int64_t frames = sum_.dim(1), plane = sum_.dim(2) * sum_.dim(3), channels = sum_.dim(4);
  float* dst = sum_.data<float>();
  const float* wsum = weight_.data<float>();
  for (int64_t f = 0; f < frames; ++f) {
    for (int64_t p = 0; p < plane; ++p) {
      SV_CHECK(wsum[p] > 0, "VAE tiling: pixel {} is covered by no tile", p);
      float* d = dst + (f * plane + p) * channels;
      for (int64_t c = 0; c < channels; ++c) d[c] /= wsum[p];
    }
  }
  return sum_;
}

}  // namespace sv::vae
