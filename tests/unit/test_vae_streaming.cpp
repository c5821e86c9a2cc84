// The Video-VAE decoder streamed (frame by frame, or latent frames pushed in
// pieces) gives the same frames as decoding a chunk at once, and the streamed
// layers equal their whole-sequence (upstream) form. Random weights, tiny sizes.
#include <gtest/gtest.h>

#include <cmath>

#include "layers/weight_loader.h"
#include "models/vae/vae_layers.h"
#include "models/vae/vae_model.h"
#include "models/vae/vae_tensor_utils.h"
#include "test_util.h"

namespace sv {
namespace {

using test::random_tensor;
using test::rel_l2;
using test::to_double;

// The fixtures' tiny model: every layer type of the real one, small widths.
VaeConfig tiny_config() {
  VaeConfig c;
  c.z_channels = 4;
  c.encoder.ch = 32;
  c.encoder.ch_mult = {1, 2, 1, 1};
  c.decoder.ch = 32;
  c.decoder.ch_mult = {1, 2, 1, 1};
  c.validate("tiny");
  return c;
}

// Feeds x frame by frame through fn(piece, state) and concatenates the outputs.
template <class State, class Fn>
Tensor streamed(const Tensor& x, Fn fn) {
  State state;
  std::vector<Tensor> pieces;
  for (int64_t t = 0; t < x.dim(1); ++t)
    pieces.push_back(fn(x.slice(1, t, t + 1).contiguous(), &state));
  return vae::cat_frames(pieces);
}

TEST(VaeStreaming, ResnetBlockStreamedEqualsWholeSequence) {
  const VaeConfig config = tiny_config();
  ParameterRegistry registry;
  const vae::Resnet3DBlock block(Scope(registry, "b"), 32, 64, config);
  init_parameters_random(registry, 7);
  const Tensor x = random_tensor(Shape{1, 5, 3, 4, 32}, 1);
  const Tensor whole = block.forward(x);
  const Tensor stream = streamed<vae::ResnetState>(
      x, [&](const Tensor& piece, vae::ResnetState* s) { return block.forward(piece, s); });
  EXPECT_LT(rel_l2(stream, to_double(whole)), 1e-6);
}

TEST(VaeStreaming, AttentionStreamedEqualsWholeSequence) {
  const VaeConfig config = tiny_config();
  ParameterRegistry registry;
  const vae::AttnBlock attn(Scope(registry, "a"), 64, config);
  init_parameters_random(registry, 8);
  const Tensor x = random_tensor(Shape{1, 4, 3, 5, 64}, 2);
  const Tensor whole = attn.forward(x);
  const Tensor stream = streamed<vae::AttnState>(
      x, [&](const Tensor& piece, vae::AttnState* s) { return attn.forward(piece, s); });
  EXPECT_LT(rel_l2(stream, to_double(whole)), 1e-6);
}

TEST(VaeStreaming, UpsampleStreamedEqualsWholeSequence) {
  const VaeConfig config = tiny_config();
  ParameterRegistry registry;
  const vae::Upsample3D up(Scope(registry, "u"), 32, config);
  init_parameters_random(registry, 9);
  const Tensor x = random_tensor(Shape{1, 3, 2, 3, 32}, 3);
  const Tensor whole = up.forward(x);
  const Tensor stream = streamed<vae::UpsampleState>(
      x, [&](const Tensor& piece, vae::UpsampleState* s) { return up.forward(piece, s); });
  EXPECT_LT(rel_l2(stream, to_double(whole)), 1e-6);
}

TEST(VaeStreaming, DecoderFrameByFrameEqualsWholeChunk) {
  const VaeConfig config = tiny_config();
  VaeModel model(config, VaeParts::Decoder);
  init_parameters_random(model.registry(), 10);
  const vae::VaeDecoder& dec = model.decoder();
  const Tensor z = random_tensor(Shape{1, 3, 2, 3, 4}, 4);

  vae::DecoderState s1 = dec.start();
  const Tensor whole = dec.push(z, s1, /*frame_by_frame=*/false);
  ASSERT_EQ(whole.shape(), (Shape{1, 17, 32, 48, 3}));

  vae::DecoderState s2 = dec.start();
  const Tensor by_frame = dec.push(z, s2, /*frame_by_frame=*/true);
  EXPECT_LT(rel_l2(by_frame, to_double(whole)), 1e-5);

  // Latent frames pushed one call at a time: frames 1, 8, 8 come out.
  vae::DecoderState s3 = dec.start();
  std::vector<Tensor> pieces;
  const int64_t expected[] = {1, 8, 8};
  for (int64_t t = 0; t < 3; ++t) {
    pieces.push_back(dec.push(z.slice(1, t, t + 1).contiguous(), s3, false));
    ASSERT_EQ(pieces.back().dim(1), expected[t]);
  }
  EXPECT_LT(rel_l2(vae::cat_frames(pieces), to_double(whole)), 1e-5);
}

TEST(VaeStreaming, DecodeHandlesPartialChunksAndBlendsBorders) {
  const VaeConfig config = tiny_config();
  VaeModel model(config, VaeParts::Decoder);
  init_parameters_random(model.registry(), 11);
  // 4 latent frames: one full chunk (17 frames) and one of a single frame (1).
  const Tensor latents = random_tensor(Shape{1, 4, 4, 2, 2}, 5);
  const Tensor unmixed = model.decode_unmixed(latents);
  ASSERT_EQ(unmixed.shape(), (Shape{1, 18, 3, 32, 32}));
  Tensor mixed = unmixed.clone();
  VaeModel::mix(mixed, 17);
  const int64_t plane = 3 * 32 * 32;
  const float* u = unmixed.data<float>();
  const float* m = mixed.data<float>();
  for (int64_t i = 0; i < plane; ++i) {
    const double f = u[16 * plane + i], b = u[17 * plane + i];
    const double b2 = 0.6 * b + 0.4 * f;
    ASSERT_NEAR(m[17 * plane + i], b2, 1e-5 * (1 + std::fabs(b2)));
    ASSERT_NEAR(m[16 * plane + i], 0.6 * f + 0.4 * b2, 1e-5 * (1 + std::fabs(f)));
    ASSERT_EQ(m[15 * plane + i], u[15 * plane + i]);
  }
}

TEST(VaeStreaming, EncoderChunkLengths) {
  EXPECT_EQ(vae::VaeEncoder::latent_frames(17), 3);
  EXPECT_EQ(vae::VaeEncoder::latent_frames(9), 2);
  EXPECT_EQ(vae::VaeEncoder::latent_frames(1), 1);
  EXPECT_EQ(vae::VaeEncoder::latent_frames(5), 0);
}

}  // namespace
}  // namespace sv
