// Optional spatial tiling of the Video-VAE decode: the tile layout covers the
// frame, the blend reproduces an image from overlapping crops of it, tiling
// gives an approximation of the untiled decode (random weights, tiny sizes).
#include <gtest/gtest.h>

#include <iostream>

#include "core/error.h"
#include "layers/weight_loader.h"
#include "models/vae/vae_model.h"
#include "models/vae/vae_spatial_tiles.h"
#include "test_util.h"

namespace sv {
namespace {

using test::random_tensor;
using test::rel_l2;
using test::to_double;

TEST(VaeTiling, SpansCoverTheAxisWithTheOverlap) {
  const vae::SpatialTiling tiling{16, 4};
  const std::vector<vae::TileSpan> spans = vae::tile_spans(34, tiling);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].begin, 0);
  EXPECT_EQ(spans[0].end, 16);
  EXPECT_EQ(spans[1].begin, 12);
  EXPECT_EQ(spans[1].end, 28);
  EXPECT_EQ(spans[2].begin, 18);  // the last tile ends at the edge, sharing more
  EXPECT_EQ(spans[2].end, 34);
  for (size_t i = 1; i < spans.size(); ++i) {
    EXPECT_GE(spans[i - 1].end - spans[i].begin, tiling.overlap);
  }
  // Nothing to cut, or tiling off: one span of everything.
  EXPECT_EQ(vae::tile_spans(16, tiling).size(), 1u);
  EXPECT_EQ(vae::tile_spans(62, vae::SpatialTiling{}).size(), 1u);
}

TEST(VaeTiling, RejectsOverlapsThatDoNotFit) {
  EXPECT_THROW((vae::SpatialTiling{8, 5}.validate()), ConfigError);
  EXPECT_THROW((vae::SpatialTiling{8, 0}.validate()), ConfigError);
  EXPECT_NO_THROW((vae::SpatialTiling{8, 4}.validate()));
  EXPECT_NO_THROW((vae::SpatialTiling{0, 4}.validate()));  // off
}

TEST(VaeTiling, BlendingCropsOfOneImageGivesTheImage) {
  // Frames [1, 2, 40, 56, 3]; tiles of 16 x 16 pixels overlapping by 4 (ramp 4).
  const Tensor image = random_tensor(Shape{1, 2, 40, 56, 3}, 21);
  const vae::SpatialTiling tiling{16, 4};
  vae::TileBlender blender(2, 40, 56, 3, tiling.overlap);
  for (const vae::TileSpan& r : vae::tile_spans(40, tiling)) {
    for (const vae::TileSpan& c : vae::tile_spans(56, tiling)) {
      blender.add(image.slice(2, r.begin, r.end).slice(3, c.begin, c.end), r.begin, c.begin);
    }
  }
  EXPECT_LT(rel_l2(blender.finish(), to_double(image)), 1e-6);
}

VaeConfig tiny_config() {
  VaeConfig c;
  c.z_channels = 4;
  c.decoder.ch = 32;
  c.decoder.ch_mult = {1, 2, 1, 1};
  c.validate("tiny");
  return c;
}

TEST(VaeTiling, TiledDecodeApproximatesTheUntiledOne) {
  VaeModel model(tiny_config(), VaeParts::Decoder);
  init_parameters_random(model.registry(), 12);
  const Tensor latents = random_tensor(Shape{1, 3, 4, 8, 6}, 6);
  const Tensor untiled = model.decode_unmixed(latents);

  VaeDecodeOptions cut;
  cut.tiling = {4, 2};  // 3 x 2 tiles
  const Tensor tiled = model.decode_unmixed(latents, cut);
  ASSERT_EQ(tiled.shape(), untiled.shape());
  const double err = rel_l2(tiled, to_double(untiled));
  // Not exact (per-frame GroupNorm statistics and attention see a tile), but
  // the same video: the error is what the tiny model makes of a cut frame.
  EXPECT_GT(err, 0.0);
  EXPECT_LT(err, 0.5);
  RecordProperty("rel_l2_tiled_vs_untiled", std::to_string(err));
  std::cout << "tiled vs untiled decode: relative L2 error " << err << "\n";
}

}  // namespace
}  // namespace sv
