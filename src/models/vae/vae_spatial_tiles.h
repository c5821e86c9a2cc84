// Optional spatial tiling of a Video-VAE decode: the latent is cut into
// overlapping tiles, each decoded on its own, and the decoded tiles are
// blended with linear ramps across the overlaps.
//
// Not exact: the v2 decoder normalises each frame over its whole area and its
// mid-block attention sees every position, so a tile's statistics differ from
// the full frame's. The streamed untiled decode is the exact method; tiling
// only trades accuracy for memory beyond what streaming gives (its error is
// measured by `stepvideo bench vae --tile N --compare-untiled`).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace sv::vae {

struct SpatialTiling {
  int64_t tile = 0;     // tile side in latent positions; 0 = no tiling
  int64_t overlap = 4;  // latent positions shared by neighbouring tiles

  bool enabled() const { return tile > 0; }
  // Throws ConfigError unless 0 < overlap * 2 <= tile (or tiling is off).
  void validate() const;
};

// [begin, end) in latent positions along one axis of `size`: tiles of `tile`
// positions, consecutive ones sharing at least `overlap`; the last one ends at
// `size` (it may share more). One span of everything when size <= tile.
struct TileSpan {
  int64_t begin = 0, end = 0;
};
std::vector<TileSpan> tile_spans(int64_t size, const SpatialTiling& tiling);

// Accumulates decoded tiles into a frame buffer, weighting each pixel of a
// tile by a ramp that rises across its overlap with a neighbour (and is 1
// elsewhere), then divides by the summed weights.
class TileBlender {
 public:
  // frames, height, width, channels of the whole decoded chunk (pixels).
  TileBlender(int64_t frames, int64_t height, int64_t width, int64_t channels,
              int64_t ramp_pixels);
  // tile: f32 [1, frames, th, tw, channels] (channel-last) decoded from the
  // latent tile whose top-left pixel is (y0, x0).
  void add(const Tensor& tile, int64_t y0, int64_t x0);
  // f32 [1, frames, height, width, channels].
  Tensor finish();

 private:
  float ramp(int64_t pos, int64_t begin, int64_t end, int64_t size) const;
  Tensor sum_;     // [1, frames, height, width, channels]
  Tensor weight_;  // [height, width]
  int64_t ramp_;
};

}  // namespace sv::vae
