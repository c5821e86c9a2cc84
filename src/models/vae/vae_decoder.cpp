#include "models/vae/vae_decoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "models/vae/vae_tensor_utils.h"
#include "ops/pixel_shuffle3d.h"

namespace sv::vae {

struct VaeDecoder::Level {
  std::vector<std::unique_ptr<Resnet3DBlock>> blocks;
  std::unique_ptr<Upsample3D> upsample3d;  // levels in temporal_up_layers
  std::unique_ptr<Upsample2D> upsample2d;  // other levels but 0
};

namespace {

void emit(const TraceFn& trace, const std::string& name, const Tensor& value) {
  if (trace) trace(name, value);
}

// Drops the first `drop` frames of x (all of them: undefined).
Tensor drop_front(const Tensor& x, int64_t drop) {
  if (drop <= 0) return x;
  if (drop >= x.dim(1)) return Tensor();
  return x.slice(1, drop, x.dim(1)).contiguous();
}

// dy with `frames` zero frames in front: the gradient of a drop_front.
Tensor pad_front(const Tensor& dy, int64_t frames) {
  const Tensor d = dy.contiguous();
  Tensor out = Tensor::zeros(Shape{d.dim(0), d.dim(1) + frames, d.dim(2), d.dim(3), d.dim(4)}, DType::F32);
  out.slice(1, frames, out.dim(1)).copy_from(d);
  return out;
}

}  // namespace

VaeDecoder::VaeDecoder(const Scope& scope, const VaeConfig& config) : config_(config) {
  // Declared in upstream state_dict order.
  const VaeDecoderConfig& dc = config.decoder;
  const int64_t z = config.z_channels, p = config.patch_channels();
  const int64_t deepest = dc.deepest_width();
  conv_in_ = std::make_unique<CausalConv3d>(scope.child("conv_in").child("conv"), z, p, 3);
  conv_unpatchify_ = std::make_unique<CausalConv3d>(
      scope.child("conv_unpatchify").child("conv").child("conv"), p, deepest * 8, 3);
  const Scope mid = scope.child("mid");
  mid_block_1_ = std::make_unique<Resnet3DBlock>(mid.child("block_1"), deepest, deepest, config);
  mid_attn_1_ = std::make_unique<AttnBlock>(mid.child("attn_1"), deepest, config);
  mid_block_2_ = std::make_unique<Resnet3DBlock>(mid.child("block_2"), deepest, deepest, config);
  const size_t levels = dc.ch_mult.size();
  for (size_t level = 0; level < levels; ++level) {
    const Scope up = scope.child("up").child(static_cast<int64_t>(level));
    auto lv = std::make_unique<Level>();
    int64_t in = level + 1 == levels ? deepest : dc.width(level + 1);
    const int64_t out = dc.width(level);
    for (int64_t b = 0; b <= config.num_res_blocks; ++b) {
      lv->blocks.push_back(
          std::make_unique<Resnet3DBlock>(up.child("block").child(b), in, out, config));
      in = out;
    }
    if (level != 0) {
      const auto& temporal = dc.temporal_up_layers;
      if (std::find(temporal.begin(), temporal.end(), static_cast<int64_t>(level)) !=
          temporal.end()) {
        lv->upsample3d = std::make_unique<Upsample3D>(up.child("upsample"), out, config);
      } else {
        lv->upsample2d = std::make_unique<Upsample2D>(up.child("upsample"), out);
      }
    }
    up_.push_back(std::move(lv));
  }
  norm_out_ = std::make_unique<VaeGroupNorm>(scope.child("norm_out"), dc.width(0), config);
  // The released file names this decoder.conv_out.*, one level above the
  // module's own decoder.conv_out.conv.* (upstream renames it on load).
  conv_out_ =
      std::make_unique<CausalConv3d>(scope.child("conv_out"), dc.width(0), config.out_channels, 3);
}

VaeDecoder::~VaeDecoder() = default;

DecoderState VaeDecoder::start() const {
  DecoderState s;
  s.up_blocks.resize(up_.size());
  for (size_t level = 0; level < up_.size(); ++level) {
    s.up_blocks[level].resize(up_[level]->blocks.size());
  }
  s.up_samples.resize(up_.size());
  return s;
}

Tensor VaeDecoder::head(const Tensor& z, DecoderState& state, const TraceFn& trace) const {
  const int64_t p = config_.patch_channels();
  Tensor h = conv_in_->forward(z, &state.conv_in);
  emit(trace, "conv_in", h);
  const Tensor shortcut_in = ops::channel_dup_shuffle3d(z, p, 1);
  emit(trace, "shortcut_in", shortcut_in);
  add_in_place(h, shortcut_in);

  // Pixel shuffle by 2 doubles the frames; the chunk's very first one is dropped.
  Tensor shortcut = ops::channel_dup_shuffle3d(h, config_.decoder.deepest_width(), 2);
  Tensor u = ops::pixel_shuffle3d(conv_unpatchify_->forward(h, &state.conv_unpatchify), 2);
  const int64_t drop = std::max<int64_t>(0, 1 - state.mid_frames);
  state.mid_frames += u.dim(1);
  u = drop_front(u, drop);
  shortcut = drop_front(shortcut, drop);
  if (!u.defined()) return u;
  emit(trace, "conv_unpatchify", u);
  emit(trace, "shortcut_unpathify", shortcut);
  add_in_place(u, shortcut);
  return u;
}

void VaeDecoder::up_from(int64_t level, const Tensor& x, DecoderState& state, bool frame_by_frame,
                         const TraceFn& trace, std::vector<Tensor>& out) const {
  if (frame_by_frame && x.dim(1) > 1) {
    for (int64_t t = 0; t < x.dim(1); ++t) {
      up_from(level, x.slice(1, t, t + 1).contiguous(), state, frame_by_frame, trace, out);
    }
    return;
  }
  const auto l = static_cast<size_t>(level);
  const Level& lv = *up_[l];
  Tensor h = x;
  for (size_t b = 0; b < lv.blocks.size(); ++b) {
    h = lv.blocks[b]->forward(h, &state.up_blocks[l][b]);
    emit(trace, fmt::format("up.{}.block.{}", level, b), h);
  }
  if (lv.upsample3d) h = lv.upsample3d->forward(h, &state.up_samples[l]);
  if (lv.upsample2d) h = lv.upsample2d->forward(h);
  if (level != 0) {
    emit(trace, fmt::format("up.{}.upsample", level), h);
    up_from(level - 1, h, state, frame_by_frame, trace, out);
  } else {
    const Tensor frames = tail(h, state, trace);
    if (frames.defined()) out.push_back(frames);
  }
}

Tensor VaeDecoder::tail(const Tensor& x, DecoderState& state, const TraceFn& trace) const {
  const Tensor g = norm_out_->forward(x, true);
  const Tensor o = conv_out_->forward(g, &state.conv_out);
  emit(trace, "conv_out", o);
  // The first temporal_downsample - 1 frames of a chunk are dropped.
  const int64_t drop =
      std::max<int64_t>(0, config_.decoder.temporal_downsample - 1 - state.out_frames);
  state.out_frames += o.dim(1);
  return drop_front(o, drop);
}

Tensor VaeDecoder::push(const Tensor& latents, DecoderState& state, bool frame_by_frame,
                        const TraceFn& trace) const {
  SV_CHECK(latents.rank() == 5 && latents.dim(0) == 1 && latents.dim(4) == config_.z_channels,
           "VAE decoder: latents must be [1, T, h, w, {}] channel-last, got {}", config_.z_channels,
           latents.describe());
  std::vector<Tensor> frames;
  auto run = [&](const Tensor& z) {
    Tensor h = head(z, state, trace);
    if (!h.defined()) return;
    h = mid_block_1_->forward(h, &state.mid_block_1);
    emit(trace, "mid.block_1", h);
    h = mid_attn_1_->forward(h, &state.mid_attn_1);
    emit(trace, "mid.attn_1", h);
    h = mid_block_2_->forward(h, &state.mid_block_2);
    emit(trace, "mid.block_2", h);
    up_from(static_cast<int64_t>(up_.size()) - 1, h, state, frame_by_frame, trace, frames);
  };
  const Tensor z = latents.contiguous();
  if (frame_by_frame) {
    for (int64_t t = 0; t < z.dim(1); ++t) run(z.slice(1, t, t + 1).contiguous());
  } else {
    run(z);
  }
  return cat_frames(frames);
}

Tensor VaeDecoder::forward(const Tensor& latents, DecoderSaved& saved) const {
  SV_CHECK(latents.rank() == 5 && latents.dim(0) == 1 && latents.dim(4) == config_.z_channels &&
               latents.dim(1) > 0,
           "VAE decoder: latents must be [1, T > 0, h, w, {}] channel-last, got {}", config_.z_channels,
           latents.describe());
  saved.z = latents.contiguous();
  const int64_t p = config_.patch_channels();
  Tensor h = conv_in_->forward_uncached(saved.z);
  add_in_place(h, ops::channel_dup_shuffle3d(saved.z, p, 1));
  saved.unpatchify_in = h;
  // As head(): the chunk's first frame after the pixel shuffle is dropped.
  Tensor u = drop_front(ops::pixel_shuffle3d(conv_unpatchify_->forward_uncached(h), 2), 1);
  add_in_place(u, drop_front(ops::channel_dup_shuffle3d(h, config_.decoder.deepest_width(), 2), 1));
  h = mid_block_1_->forward(u, saved.mid_block_1);
  h = mid_attn_1_->forward(h, saved.mid_attn_1);
  h = mid_block_2_->forward(h, saved.mid_block_2);
  saved.blocks.assign(up_.size(), {});
  saved.upsample3d.assign(up_.size(), {});
  saved.upsample2d.assign(up_.size(), Tensor());
  for (size_t level = up_.size(); level-- > 0;) {
    const Level& lv = *up_[level];
    saved.blocks[level].resize(lv.blocks.size());
    for (size_t b = 0; b < lv.blocks.size(); ++b) h = lv.blocks[b]->forward(h, saved.blocks[level][b]);
    if (lv.upsample3d) h = lv.upsample3d->forward(h, saved.upsample3d[level]);
    if (lv.upsample2d) h = lv.upsample2d->forward(h, saved.upsample2d[level]);
  }
  saved.norm_out_in = h;
  saved.conv_out_in = norm_out_->forward(h, true);
  // As tail(): the chunk's first temporal_downsample - 1 frames are dropped.
  return drop_front(conv_out_->forward_uncached(saved.conv_out_in), config_.decoder.temporal_downsample - 1);
}

Tensor VaeDecoder::backward(const Tensor& dvideo, DecoderSaved& saved, Gradients& grads) const {
  const Tensor dout = pad_front(dvideo, config_.decoder.temporal_downsample - 1);
  Tensor d = conv_out_->backward(saved.conv_out_in, dout, grads);
  d = norm_out_->backward(saved.norm_out_in, true, d, grads);
  for (size_t level = 0; level < up_.size(); ++level) {
    const Level& lv = *up_[level];
    if (lv.upsample3d) d = lv.upsample3d->backward(d, saved.upsample3d[level], grads);
    if (lv.upsample2d) d = lv.upsample2d->backward(d, saved.upsample2d[level], grads);
    for (size_t b = lv.blocks.size(); b-- > 0;) d = lv.blocks[b]->backward(d, saved.blocks[level][b], grads);
  }
  d = mid_block_2_->backward(d, saved.mid_block_2, grads);
  d = mid_attn_1_->backward(d, saved.mid_attn_1, grads);
  d = mid_block_1_->backward(d, saved.mid_block_1, grads);
  const Tensor du = pad_front(d, 1);
  const Tensor& h = saved.unpatchify_in;
  Tensor dh = conv_unpatchify_->backward(h, ops::pixel_shuffle3d_backward(du, 2), grads);
  add_in_place(dh, ops::channel_dup_shuffle3d_backward(du, h.dim(4), 2));
  Tensor dz = conv_in_->backward(saved.z, dh, grads);
  add_in_place(dz, ops::channel_dup_shuffle3d_backward(dh, config_.z_channels, 1));
  saved = {};
  return dz;
}

}  // namespace sv::vae
