#include "models/vae/vae_encoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "models/vae/vae_tensor_utils.h"
#include "ops/pixel_shuffle3d.h"

namespace sv::vae {

struct VaeEncoder::Level {
  std::vector<std::unique_ptr<Resnet3DBlock>> blocks;
  std::unique_ptr<CausalConv3d> downsample3d;  // levels in down_sampling_layer
  std::unique_ptr<ConvLayer> downsample2d;     // other levels but the last
};

namespace {

void emit(const TraceFn& trace, const std::string& name, const Tensor& value) {
  if (trace) trace(name, value);
}

}  // namespace

VaeEncoder::VaeEncoder(const Scope& scope, const VaeConfig& config) : config_(config) {
  const VaeEncoderConfig& ec = config.encoder;
  conv_in_ = std::make_unique<CausalConv3d>(scope.child("conv_in").child("conv"),
                                            config.in_channels, ec.ch, 3);
  const size_t levels = ec.ch_mult.size();
  for (size_t level = 0; level < levels; ++level) {
    const Scope down = scope.child("down").child(static_cast<int64_t>(level));
    auto lv = std::make_unique<Level>();
    int64_t in = level == 0 ? ec.ch : ec.width(level - 1);  // in_ch_mult = (1,) + ch_mult
    const int64_t out = ec.width(level);
    for (int64_t b = 0; b < config.num_res_blocks; ++b) {
      lv->blocks.push_back(
          std::make_unique<Resnet3DBlock>(down.child("block").child(b), in, out, config));
      in = out;
    }
    if (level + 1 != levels) {
      const auto& layers = ec.down_sampling_layer;
      if (std::find(layers.begin(), layers.end(), static_cast<int64_t>(level)) != layers.end()) {
        lv->downsample3d = std::make_unique<CausalConv3d>(
            down.child("downsample").child("conv").child("conv"), out, out, 3, /*stride=*/2);
      } else {
        // Downsample2D(padding=0): one zero column right and one zero row
        // below, then a stride-2 3x3 Conv2d, frame by frame.
        lv->downsample2d = std::make_unique<ConvLayer>(
            down.child("downsample").child("conv"), out, out, std::array<int64_t, 3>{1, 3, 3}, true,
            cpu::Conv3dParams{{1, 2, 2}, {0, 0, 0}, {0, 1, 1}});
      }
    }
    down_.push_back(std::move(lv));
  }
  const int64_t deepest = ec.deepest_width();
  const Scope mid = scope.child("mid");
  mid_block_1_ = std::make_unique<Resnet3DBlock>(mid.child("block_1"), deepest, deepest, config);
  mid_attn_1_ = std::make_unique<AttnBlock>(mid.child("attn_1"), deepest, config);
  mid_block_2_ = std::make_unique<Resnet3DBlock>(mid.child("block_2"), deepest, deepest, config);
  norm_out_ = std::make_unique<VaeGroupNorm>(scope.child("norm_out"), deepest, config);
  const int64_t p = config.patch_channels();
  conv_patchify_ = std::make_unique<CausalConv3d>(
      scope.child("conv_patchify").child("conv").child("conv"), deepest, p / 8, 3);
  const int64_t out_channels = ec.double_z ? 2 * config.z_channels : config.z_channels;
  conv_out_ =
      std::make_unique<CausalConv3d>(scope.child("conv_out").child("conv"), p, out_channels, 3);
}

VaeEncoder::~VaeEncoder() = default;

int64_t VaeEncoder::latent_frames(int64_t frames) {
  if (frames <= 0) return 0;
  const int64_t after_downsampling = (((frames + 1) / 2) + 1) / 2;  // two stride-2 causal convs
  return after_downsampling % 2 == 1 ? (after_downsampling + 1) / 2 : 0;
}

Tensor VaeEncoder::forward(const Tensor& video, const TraceFn& trace) const {
  SV_CHECK(video.rank() == 5 && video.dim(0) == 1 && video.dim(4) == config_.in_channels,
           "VAE encoder: video must be [1, T, H, W, {}] channel-last, got {}", config_.in_channels,
           video.describe());
  Tensor h = conv_in_->forward(video.contiguous());
  for (size_t level = 0; level < down_.size(); ++level) {
    const Level& lv = *down_[level];
    for (size_t b = 0; b < lv.blocks.size(); ++b) {
      h = lv.blocks[b]->forward(h);
      emit(trace, fmt::format("down.{}.block.{}", level, b), h);
    }
    if (lv.downsample3d) h = lv.downsample3d->forward(h);
    if (lv.downsample2d) h = lv.downsample2d->forward(h);
    if (lv.downsample3d || lv.downsample2d)
      emit(trace, fmt::format("down.{}.downsample", level), h);
  }
  h = mid_block_1_->forward(h);
  emit(trace, "mid.block_1", h);
  h = mid_attn_1_->forward(h);
  emit(trace, "mid.attn_1", h);
  h = mid_block_2_->forward(h);
  emit(trace, "mid.block_2", h);

  const Tensor g = norm_out_->forward(h, true);
  h = Tensor();
  const int64_t p = config_.patch_channels();
  const Tensor shortcut = ops::channel_avg_unshuffle3d(g, p, 2);
  emit(trace, "shortcut_pathify", shortcut);
  Tensor patches = ops::pixel_unshuffle3d(conv_patchify_->forward(g), 2);
  emit(trace, "conv_patchify", patches);
  add_in_place(patches, shortcut);
  const Tensor out_shortcut = ops::channel_avg_unshuffle3d(
      patches, config_.encoder.double_z ? 2 * config_.z_channels : config_.z_channels, 1);
  emit(trace, "shortcut_out", out_shortcut);
  Tensor out = conv_out_->forward(patches);
  emit(trace, "conv_out", out);
  add_in_place(out, out_shortcut);
  return out;
}

Tensor VaeEncoder::forward(const Tensor& video, EncoderSaved& saved) const {
  SV_CHECK(video.rank() == 5 && video.dim(0) == 1 && video.dim(4) == config_.in_channels,
           "VAE encoder: video must be [1, T, H, W, {}] channel-last, got {}", config_.in_channels,
           video.describe());
  saved.video = video.contiguous();
  Tensor h = conv_in_->forward_uncached(saved.video);
  saved.blocks.assign(down_.size(), {});
  saved.downsample_in.assign(down_.size(), Tensor());
  for (size_t level = 0; level < down_.size(); ++level) {
    const Level& lv = *down_[level];
    saved.blocks[level].resize(lv.blocks.size());
    for (size_t b = 0; b < lv.blocks.size(); ++b) h = lv.blocks[b]->forward(h, saved.blocks[level][b]);
    if (lv.downsample3d || lv.downsample2d) saved.downsample_in[level] = h;
    if (lv.downsample3d) h = lv.downsample3d->forward_uncached(h);
    if (lv.downsample2d) h = lv.downsample2d->forward_uncached(h);
  }
  h = mid_block_1_->forward(h, saved.mid_block_1);
  h = mid_attn_1_->forward(h, saved.mid_attn_1);
  h = mid_block_2_->forward(h, saved.mid_block_2);
  saved.norm_out_in = h;
  saved.normed = norm_out_->forward(h, true);
  const int64_t p = config_.patch_channels();
  saved.patches = ops::pixel_unshuffle3d(conv_patchify_->forward_uncached(saved.normed), 2);
  add_in_place(saved.patches, ops::channel_avg_unshuffle3d(saved.normed, p, 2));
  Tensor out = conv_out_->forward_uncached(saved.patches);
  add_in_place(out, ops::channel_avg_unshuffle3d(saved.patches, out.dim(4), 1));
  return out;
}

void VaeEncoder::backward(const Tensor& dout, EncoderSaved& saved, Gradients& grads) const {
  const Tensor d_out = dout.contiguous();
  Tensor dpatches = conv_out_->backward(saved.patches, d_out, grads);
  add_in_place(dpatches, ops::channel_avg_unshuffle3d_backward(d_out, saved.patches.shape(), 1));
  const Tensor& g = saved.normed;
  const Shape patchify_out{1, g.dim(1), g.dim(2), g.dim(3), config_.patch_channels() / 8};
  Tensor dnormed =
      conv_patchify_->backward(g, ops::pixel_unshuffle3d_backward(dpatches, patchify_out, 2), grads);
  add_in_place(dnormed, ops::channel_avg_unshuffle3d_backward(dpatches, g.shape(), 2));
  Tensor d = norm_out_->backward(saved.norm_out_in, true, dnormed, grads);
  d = mid_block_2_->backward(d, saved.mid_block_2, grads);
  d = mid_attn_1_->backward(d, saved.mid_attn_1, grads);
  d = mid_block_1_->backward(d, saved.mid_block_1, grads);
  for (size_t level = down_.size(); level-- > 0;) {
    const Level& lv = *down_[level];
    if (lv.downsample3d) d = lv.downsample3d->backward(saved.downsample_in[level], d, grads);
    if (lv.downsample2d) d = lv.downsample2d->backward(saved.downsample_in[level], d, grads);
    for (size_t b = lv.blocks.size(); b-- > 0;) d = lv.blocks[b]->backward(d, saved.blocks[level][b], grads);
  }
  // The video needs no gradient; the convolution's input half is computed and dropped.
  conv_in_->backward(saved.video, d, grads);
  saved = {};
}

}  // namespace sv::vae
