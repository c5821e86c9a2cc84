// AutoencoderKL, version 2 (upstream stepvideo/vae/vae.py): the Step-Video-T2V
// Video-VAE on the CPU in f32, bound to the released vae_v2.safetensors names.
#pragma once

#include <cstdint>
#include <memory>

#include "layers/parameter.h"
#include "models/vae/vae_config.h"
#include "models/vae/vae_decoder.h"
#include "models/vae/vae_encoder.h"
#include "models/vae/vae_spatial_tiles.h"

namespace sv {

// Which halves to declare: a fixture or a decode-only run carries one.
enum class VaeParts { Encoder, Decoder, Both };

// DiagonalGaussianDistribution of the encoder's output.
struct DiagonalGaussian {
  Tensor mean;    // f32 [B, T, z, h, w]
  Tensor logvar;  // clamped to [-30, 20]

  // parameters: f32 [B, T, 2z, h, w]; the first z channels are the mean.
  static DiagonalGaussian from_parameters(const Tensor& parameters);
  // mean + exp(logvar / 2) * noise, noise of mean's shape (the caller draws it
  // from its seeded generator, so one seed gives one sample on any layout).
  Tensor sample(const Tensor& noise) const;
};

struct VaeDecodeOptions {
  // Run every decoder level one frame at a time (bounded memory, same result).
  bool frame_by_frame = true;
  // Off by default: approximate (see vae_spatial_tiles.h), for frames larger
  // than streaming alone fits in memory.
  vae::SpatialTiling tiling;
};

class VaeModel {
 public:
  explicit VaeModel(const VaeConfig& config, VaeParts parts = VaeParts::Both);
  ~VaeModel();

  ParameterRegistry& registry() { return registry_; }
  const ParameterRegistry& registry() const { return registry_; }
  const VaeConfig& config() const { return config_; }
  // Throws InputError when that half was not declared.
  const vae::VaeDecoder& decoder() const;
  const vae::VaeEncoder& encoder() const;

  // latents: [B, T, z, h, w] (b t c h w), no scaling. Splits T into chunks of
  // latent_len, decodes them one after another, each from scratch (only one
  // chunk's activations exist at a time), concatenates and blends the chunk
  // borders (mix). Returns f32 [B, frames, out_channels, 16 h, 16 w], not
  // clamped; a chunk of n latent frames gives 8 n - 7 video frames.
  // trace sees the first chunk of the first batch item.
  Tensor decode(const Tensor& latents, const VaeDecodeOptions& options = {},
                const vae::TraceFn& trace = {}) const;
  // decode without the blend.
  Tensor decode_unmixed(const Tensor& latents, const VaeDecodeOptions& options = {},
                        const vae::TraceFn& trace = {}) const;
  // Upstream AutoencoderKL.mix on [B, T, C, H, W], in place: at every chunk
  // border (front = frame_len k - 1, back = frame_len k), first
  // back = 0.6 back + 0.4 front, then front = 0.6 front + 0.4 back (updated).
  static void mix(Tensor& video, int64_t frame_len);

  // video: [B, T, in_channels, H, W] (b t c h w) with H, W multiples of 16.
  // Splits T into chunks of frame_len, encodes each independently and
  // concatenates: f32 [B, T', 2 z, H / 16, W / 16], the Gaussian's parameters.
  // trace sees the first chunk of the first batch item.
  Tensor encode_parameters(const Tensor& video, const vae::TraceFn& trace = {}) const;

 private:
  VaeConfig config_;
  // One chunk, z: [1, T, h, w, z] channel-last -> [1, T', 16 h, 16 w, out] channel-last.
  Tensor decode_chunk(const Tensor& z, const VaeDecodeOptions& options,
                      const vae::TraceFn& trace) const;

  ParameterRegistry registry_;
  std::unique_ptr<vae::VaeEncoder> encoder_;
  std::unique_ptr<vae::VaeDecoder> decoder_;
};

}  // namespace sv
