#include "models/vae/vae_model.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/log.h"
#include "models/vae/vae_tensor_utils.h"
#include "ops/op_checks.h"

namespace sv {

namespace {

// Pixels per latent position in height and width (v2: 16x16).
constexpr int64_t kSpatialScale = 16;

}  // namespace

VaeModel::VaeModel(const VaeConfig& config, VaeParts parts) : config_(config) {
  // state_dict order: the encoder's tensors, then the decoder's.
  const Scope root(registry_);
  if (parts != VaeParts::Decoder) {
    encoder_ = std::make_unique<vae::VaeEncoder>(root.child("encoder"), config_);
  }
  if (parts != VaeParts::Encoder) {
    decoder_ = std::make_unique<vae::VaeDecoder>(root.child("decoder"), config_);
  }
}

VaeModel::~VaeModel() = default;

const vae::VaeDecoder& VaeModel::decoder() const {
  SV_CHECK_AS(InputError, decoder_ != nullptr, "this VAE was built without its decoder");
  return *decoder_;
}

const vae::VaeEncoder& VaeModel::encoder() const {
  SV_CHECK_AS(InputError, encoder_ != nullptr, "this VAE was built without its encoder");
  return *encoder_;
}

Tensor VaeModel::decode_unmixed(const Tensor& latents, const VaeDecodeOptions& options,
                                const vae::TraceFn& trace) const {
  options.tiling.validate();
  SV_CHECK_AS(InputError, latents.rank() == 5 && latents.dim(2) == config_.z_channels,
              "VAE decode: latents must be [batch, frames, {}, height, width], got {}",
              config_.z_channels, latents.describe());
  const int64_t batch = latents.dim(0), frames = latents.dim(1);
  SV_CHECK_AS(InputError, frames > 0 && batch > 0, "VAE decode: no latents ({})",
              latents.describe());
  const int64_t chunk = config_.latent_len;
  int64_t video_frames = 0;
  for (int64_t t0 = 0; t0 < frames; t0 += chunk)
    video_frames += 8 * std::min(chunk, frames - t0) - 7;
  Tensor video = Tensor::empty(
      Shape{batch, video_frames, config_.out_channels, latents.dim(3) * kSpatialScale,
            latents.dim(4) * kSpatialScale},
      DType::F32);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t offset = 0;
    for (int64_t t0 = 0; t0 < frames; t0 += chunk) {
      const Tensor z =
          vae::to_channels_last(latents.select(0, b).slice(0, t0, std::min(frames, t0 + chunk)));
      const bool first = b == 0 && t0 == 0;
      const Tensor out = decode_chunk(z, options, first ? trace : vae::TraceFn());
      const Tensor frames_out = vae::from_channels_last(out);  // [1, T', C, H, W]
      const int64_t n = frames_out.dim(1);
      video.select(0, b).slice(0, offset, offset + n).copy_from(frames_out.select(0, 0));
      offset += n;
    }
    SV_CHECK(offset == video_frames, "VAE decode produced {} frames, expected {}", offset,
             video_frames);
  }
  return video;
}

Tensor VaeModel::decode_chunk(const Tensor& z, const VaeDecodeOptions& options,
                              const vae::TraceFn& trace) const {
  const vae::VaeDecoder& dec = decoder();
  auto decode_whole = [&](const Tensor& part, const vae::TraceFn& part_trace) {
    vae::DecoderState state = dec.start();
    return dec.push(part, state, options.frame_by_frame, part_trace);
  };
  const std::vector<vae::TileSpan> rows = vae::tile_spans(z.dim(2), options.tiling);
  const std::vector<vae::TileSpan> cols = vae::tile_spans(z.dim(3), options.tiling);
  if (rows.size() == 1 && cols.size() == 1) return decode_whole(z, trace);
  std::optional<vae::TileBlender> blender;
  size_t done = 0;
  for (const vae::TileSpan& r : rows) {
    for (const vae::TileSpan& c : cols) {
      const Tensor part = z.slice(2, r.begin, r.end).slice(3, c.begin, c.end).contiguous();
      const Tensor out = decode_whole(part, done == 0 ? trace : vae::TraceFn());
      if (!blender) {
        blender.emplace(out.dim(1), z.dim(2) * kSpatialScale, z.dim(3) * kSpatialScale,
                        out.dim(4), options.tiling.overlap * kSpatialScale);
      }
      blender->add(out, r.begin * kSpatialScale, c.begin * kSpatialScale);
      log_debug("VAE decode: tile {}/{} done", ++done, rows.size() * cols.size());
    }
  }
  return blender->finish();
}

Tensor VaeModel::decode(const Tensor& latents, const VaeDecodeOptions& options,
                        const vae::TraceFn& trace) const {
  Tensor video = decode_unmixed(latents, options, trace);
  mix(video, config_.frame_len);
  return video;
}

void VaeModel::mix(Tensor& video, int64_t frame_len) {
  ops::require_f32_contiguous(video, "VAE mix", "video");
  SV_CHECK(video.rank() == 5, "VAE mix: expected [B, T, C, H, W], got {}", video.describe());
  const float remain = 0.6f;
  const auto blend = static_cast<float>(1.0 - 0.6);
  const int64_t frames = video.dim(1);
  const int64_t plane = video.numel() / (video.dim(0) * frames);
  float* p = video.data<float>();
  for (int64_t b = 0; b < video.dim(0); ++b) {
    for (int64_t back = frame_len; back < frames; back += frame_len) {
      float* x_back = p + (b * frames + back) * plane;
      float* x_front = x_back - plane;
      // Sequential, as upstream: the front frame blends with the updated back frame.
      for (int64_t i = 0; i < plane; ++i) x_back[i] = x_back[i] * remain + x_front[i] * blend;
      for (int64_t i = 0; i < plane; ++i) x_front[i] = x_front[i] * remain + x_back[i] * blend;
    }
  }
}

Tensor VaeModel::encode_parameters(const Tensor& video, const vae::TraceFn& trace) const {
  const vae::VaeEncoder& enc = encoder();
  SV_CHECK_AS(InputError, video.rank() == 5 && video.dim(2) == config_.in_channels,
              "VAE encode: video must be [batch, frames, {}, height, width], got {}",
              config_.in_channels, video.describe());
  const int64_t batch = video.dim(0), frames = video.dim(1), h = video.dim(3), w = video.dim(4);
  SV_CHECK_AS(InputError, h % kSpatialScale == 0 && w % kSpatialScale == 0 && h > 0 && w > 0,
              "VAE encode: height and width must be multiples of 16, got {}x{}", h, w);
  const int64_t chunk = config_.frame_len;
  int64_t latent_frames = 0;
  for (int64_t t0 = 0; t0 < frames; t0 += chunk) {
    const int64_t n = std::min(chunk, frames - t0);
    const int64_t l = vae::VaeEncoder::latent_frames(n);
    SV_CHECK_AS(InputError, l > 0,
                "VAE encode: a final chunk of {} frames cannot be encoded (the v2 encoder needs "
                "chunks of 17 frames, or 1 or 9); got {} frames",
                n, frames);
    latent_frames += l;
  }
  const int64_t channels = config_.encoder.double_z ? 2 * config_.z_channels : config_.z_channels;
  Tensor out = Tensor::empty(
      Shape{batch, latent_frames, channels, h / kSpatialScale, w / kSpatialScale}, DType::F32);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t offset = 0;
    for (int64_t t0 = 0; t0 < frames; t0 += chunk) {
      const Tensor x =
          vae::to_channels_last(video.select(0, b).slice(0, t0, std::min(frames, t0 + chunk)));
      const bool first = b == 0 && t0 == 0;
      const Tensor p = vae::from_channels_last(enc.forward(x, first ? trace : vae::TraceFn()));
      const int64_t n = p.dim(1);
      out.select(0, b).slice(0, offset, offset + n).copy_from(p.select(0, 0));
      offset += n;
    }
  }
  return out;
}

DiagonalGaussian DiagonalGaussian::from_parameters(const Tensor& parameters) {
  SV_CHECK_AS(InputError, parameters.rank() == 5 && parameters.dim(2) % 2 == 0,
              "Gaussian parameters must be [B, T, 2z, h, w], got {}", parameters.describe());
  const int64_t z = parameters.dim(2) / 2;
  DiagonalGaussian g;
  g.mean = parameters.slice(2, 0, z).clone();
  g.logvar = parameters.slice(2, z, 2 * z).clone();
  float* lv = g.logvar.data<float>();
  for (int64_t i = 0; i < g.logvar.numel(); ++i) lv[i] = std::clamp(lv[i], -30.0f, 20.0f);
  return g;
}

Tensor DiagonalGaussian::sample(const Tensor& noise) const {
  SV_CHECK_AS(InputError, noise.shape() == mean.shape(), "Gaussian sample: noise {} for mean {}",
              noise.describe(), mean.describe());
  const Tensor n = noise.contiguous().to(DType::F32);
  Tensor x = Tensor::empty(mean.shape(), DType::F32);
  const float* m = mean.data<float>();
  const float* lv = logvar.data<float>();
  const float* e = n.data<float>();
  float* out = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) out[i] = m[i] + std::exp(0.5f * lv[i]) * e[i];
  return x;
}

}  // namespace sv
