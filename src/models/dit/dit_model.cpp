#include "models/dit/dit_model.h"

#include <algorithm>
#include <cmath>

#include "ops/activations.h"
#include "ops/layer_norm.h"
#include "ops/linear.h"
#include "ops/modulate.h"
#include "ops/patchify.h"
#include "ops/timestep_embedding.h"
#include "parallel/ulysses.h"

namespace sv {

namespace {

constexpr int64_t kTimestepChannels = 256;  // sinusoid width of PixArt's embedder

}  // namespace

DitModel::DitModel(const DitConfig& config, const ParallelGroups& groups)
    : config_(config), groups_(groups) {
  SV_CHECK_AS(ConfigError, groups.pp_size() <= config.num_layers,
              "pp={} exceeds the {} transformer layers", groups.pp_size(), config.num_layers);
  std::tie(first_block_, last_block_) = stage_blocks(config.num_layers, groups.pp_size(), groups.pp_rank());
  const Scope root(registry_);
  const int64_t d = config.inner_dim(), p = config.patch_size;
  scale_shift_table_ = &root.param("scale_shift_table", Shape{2, d}, Init::Table);
  const Scope patch = root.child("pos_embed").child("proj");
  patch_weight_ = &patch.param("weight", Shape{d, config.in_channels, p, p}, Init::FanIn);
  patch_bias_ = &patch.param("bias", Shape{d}, Init::Bias);
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const bool here = i >= first_block_ && i < last_block_;
    const Scope one_stage = root.child("transformer_blocks").one_stage();
    const Scope blocks = here ? one_stage : one_stage.remote();
    blocks_.push_back(std::make_unique<DitBlock>(blocks.child(i), d, config.attention_head_dim, groups));
  }
  norm_out_ = std::make_unique<LayerNorm>(root.child("norm_out"), d, config.norm_eps,
                                          config.norm_elementwise_affine);
  proj_out_ = std::make_unique<Linear>(root.child("proj_out"), d,
                                       p * p * config.out_channels, true);
  const Scope adaln = root.child("adaln_single");
  const Scope embedder = adaln.child("emb").child("timestep_embedder");
  time_linear_1_ = std::make_unique<Linear>(embedder.child("linear_1"), kTimestepChannels, d, true);
  time_linear_2_ = std::make_unique<Linear>(embedder.child("linear_2"), d, d, true);
  adaln_linear_ = std::make_unique<Linear>(adaln.child("linear"), d, 6 * d, true);
  if (config.clip_channels > 0) {
    clip_projection_ =
        std::make_unique<Linear>(root.child("clip_projection"), config.clip_channels, d, true);
  }
  const Scope caption = root.child("caption_projection");
  caption_linear_1_ =
      std::make_unique<Linear>(caption.child("linear_1"), config.caption_channels, d, true);
  caption_linear_2_ = std::make_unique<Linear>(caption.child("linear_2"), d, d, true);
}

// kv_len per row: the sum of its mask row (a mask with holes counts as a
// prefix of the same length, as upstream does).
std::vector<int64_t> DitModel::key_lengths(const Tensor& mask, int64_t batch, int64_t keys) {
  SV_CHECK_AS(InputError, mask.rank() == 2 && mask.dim(0) == batch && mask.dim(1) == keys,
              "encoder_attention_mask is {}, expected [{}, {}] ([clip | llm] tokens)",
              mask.describe(), batch, keys);
  const Tensor m = mask.to(DType::F32);
  std::vector<int64_t> lens(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    double sum = 0.0;
    for (int64_t j = 0; j < keys; ++j) sum += m.data<float>()[b * keys + j];
    lens[static_cast<size_t>(b)] = static_cast<int64_t>(sum);
    SV_CHECK_AS(InputError, lens[static_cast<size_t>(b)] >= 1,
                "encoder_attention_mask row {} attends no text token", b);
  }
  return lens;
}

DitModel::VideoShape DitModel::check_video(const DitInputs& in) const {
  const Tensor& video = in.hidden_states;
  SV_CHECK_AS(InputError, video.rank() == 5 && video.dim(2) == config_.in_channels,
              "hidden_states is {}, expected [B, F, {}, H, W]", video.describe(),
              config_.in_channels);
  const int64_t p = config_.patch_size;
  SV_CHECK_AS(InputError, video.dim(3) % p == 0 && video.dim(4) % p == 0,
              "hidden_states {}: height and width must be multiples of patch size {}",
              video.describe(), p);
  const int64_t batch = video.dim(0);
  SV_CHECK_AS(InputError, in.timestep.numel() == batch, "timestep is {}, expected [{}]",
              in.timestep.describe(), batch);
  const Tensor& y = in.encoder_hidden_states;
  SV_CHECK_AS(InputError, y.rank() == 3 && y.dim(0) == batch && y.dim(2) == config_.caption_channels,
              "encoder_hidden_states is {}, expected [{}, L, {}]", y.describe(), batch,
              config_.caption_channels);
  if (clip_projection_ && in.encoder_hidden_states_2.defined()) {
    const Tensor& c = in.encoder_hidden_states_2;
    SV_CHECK_AS(InputError,
                c.rank() == 3 && c.dim(0) == batch && c.dim(2) == config_.clip_channels,
                "encoder_hidden_states_2 is {}, expected [{}, Lc, {}]", c.describe(), batch,
                config_.clip_channels);
  }
  return VideoShape{batch, video.dim(1), video.dim(3) / p, video.dim(4) / p};
}

Tensor DitModel::patch_weight_matrix() const {
  const int64_t p = config_.patch_size;
  return patch_weight_->value.reshape(Shape{config_.inner_dim(), config_.in_channels * p * p});
}

TokenSplit DitModel::token_split(int64_t tokens) const { return TokenSplit::even(tokens, groups_.sp_size()); }

Tensor DitModel::forward(const DitInputs& in, const TraceFn& trace) const {
  auto emit = [&trace](std::string_view name, const Tensor& t) {
    if (trace) trace(name, t);
  };
  const Tensor& video = in.hidden_states;
  const auto [batch, frames, hp, wp] = check_video(in);
  const int64_t p = config_.patch_size, d = config_.inner_dim();

  // Patch embedding: a Conv2d with kernel = stride = p is a linear map of patches.
  Tensor x = ops::linear(ops::patchify(video.to(DType::F32).contiguous(), p), patch_weight_matrix(),
                         patch_bias_->value);
  emit("patch_embed", x.reshape(Shape{batch * frames, hp * wp, d}));

  // AdaLN-single: t -> sinusoid -> MLP = embedded_timestep; linear(silu(.)) = 6 tables.
  const Tensor t = in.timestep.to(DType::F32).contiguous().reshape(Shape{batch});
  const Tensor t_proj = ops::timestep_embedding(t, kTimestepChannels);
  emit("adaln_single.emb.time_proj", t_proj);
  Tensor hidden = (*time_linear_1_)(t_proj);
  ops::silu_(hidden);
  const Tensor embedded_timestep = (*time_linear_2_)(hidden);
  emit("adaln_single.embedded_timestep", embedded_timestep);
  Tensor act = embedded_timestep.clone();
  ops::silu_(act);
  const Tensor t6 = (*adaln_linear_)(act);
  emit("adaln_single.timestep", t6);

  // Text: caption_projection(caption_norm(y)), clip_projection(clip) in front.
  const Tensor& y = in.encoder_hidden_states;
  Tensor caption = ops::layer_norm(y.to(DType::F32).contiguous(), Tensor(), Tensor(), config_.norm_eps);
  caption = (*caption_linear_1_)(caption);
  ops::gelu_tanh_(caption);
  caption = (*caption_linear_2_)(caption);
  emit("caption_projection", caption);
  Tensor text = caption;
  if (clip_projection_ && in.encoder_hidden_states_2.defined()) {
    const Tensor& c = in.encoder_hidden_states_2;
    const Tensor clip = (*clip_projection_)(c.to(DType::F32).contiguous());
    emit("clip_projection", clip);
    text = Tensor::empty(Shape{batch, clip.dim(1) + caption.dim(1), d}, DType::F32);
    text.slice(1, 0, clip.dim(1)).copy_from(clip);
    text.slice(1, clip.dim(1), text.dim(1)).copy_from(caption);
  }
  const std::vector<int64_t> kv_lens = key_lengths(in.encoder_attention_mask, batch, text.dim(1));
  const int64_t max_len = *std::max_element(kv_lens.begin(), kv_lens.end());
  text = text.slice(1, 0, max_len).contiguous();

  // Sequence parallel: this rank keeps its contiguous range of tokens.
  const ops::RopeGrid grid{frames, hp, wp};
  const TokenSplit split = token_split(grid.tokens());
  if (groups_.sp_size() > 1) {
    const auto r = static_cast<size_t>(groups_.sp_rank());
    x = x.slice(1, split.offsets[r], split.offsets[r] + split.counts[r]).contiguous();
  }
  run_blocks(x, text, kv_lens, t6, grid, split, trace);

  // Output (computed on the last stage, then shared along the pipeline):
  // LayerNorm, modulation by scale_shift_table + embedded_timestep, projection.
  const bool last_stage = groups_.pp_rank() == groups_.pp_size() - 1;
  Tensor result = Tensor::empty(Shape{batch, frames, config_.out_channels, video.dim(3), video.dim(4)},
                                DType::F32);
  if (last_stage) result = output_layer(x, embedded_timestep, split, frames, hp, wp);
  if (groups_.pp_size() > 1) {
    groups_.pp->broadcast_bytes(result.data<float>(), static_cast<int64_t>(result.nbytes()),
                                groups_.pp_size() - 1);
  }
  return result;
}

Tensor DitModel::output_layer(const Tensor& x, const Tensor& embedded_timestep,
                              const TokenSplit& split, int64_t frames, int64_t hp,
                              int64_t wp) const {
  const int64_t batch = x.dim(0), d = config_.inner_dim(), p = config_.patch_size;
  Tensor h = (*norm_out_)(x);
  Tensor shift_scale = Tensor::empty(Shape{batch, 2, d}, DType::F32);
  const float* table = scale_shift_table_->value.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t k = 0; k < 2; ++k) {
      for (int64_t i = 0; i < d; ++i) {
        shift_scale.data<float>()[(b * 2 + k) * d + i] =
            table[k * d + i] + embedded_timestep.data<float>()[b * d + i];
      }
    }
  }
  ops::modulate_(h, shift_scale.select(1, 0), shift_scale.select(1, 1));
  const Tensor out = gather_tokens((*proj_out_)(h), split, *groups_.sp);
  return ops::unpatchify(out, frames, hp, wp, p, config_.out_channels);
}

void DitModel::run_blocks(Tensor& x, const Tensor& text, const std::vector<int64_t>& kv_lens,
                          const Tensor& t6, const ops::RopeGrid& grid, const TokenSplit& split,
                          const TraceFn& trace) const {
  const auto first = static_cast<size_t>(first_block_), last = static_cast<size_t>(last_block_);
  if (groups_.pp_size() == 1) {
    for (size_t i = first; i < last; ++i) {
      blocks_[i]->forward(x, text, kv_lens, t6, grid, split);
      // Traces are whole-sequence values: only a one-rank sequence has them.
      if (trace && groups_.sp_size() == 1) trace("transformer_blocks." + std::to_string(i), x);
    }
    return;
  }
  const int stage = groups_.pp_rank(), stages = groups_.pp_size();
  Communicator& pp = *groups_.pp;
  const int64_t batch = x.dim(0);
  for (int64_t b = 0; b < batch; ++b) {
    Tensor xb = x.slice(0, b, b + 1).contiguous();
    if (stage > 0) {
      xb = Tensor::empty(xb.shape(), DType::F32);
      pp.recv(xb.data<float>(), xb.numel(), stage - 1, static_cast<int>(b));
    }
    const Tensor text_b = text.slice(0, b, b + 1).contiguous();
    const Tensor t6_b = t6.slice(0, b, b + 1).contiguous();
    const std::span<const int64_t> kv_b(kv_lens.data() + b, 1);
    for (size_t i = first; i < last; ++i) blocks_[i]->forward(xb, text_b, kv_b, t6_b, grid, split);
    if (stage < stages - 1) {
      pp.send(xb.data<float>(), xb.numel(), stage + 1, static_cast<int>(b));
    } else {
      x.slice(0, b, b + 1).copy_from(xb);
    }
  }
}

std::pair<int64_t, int64_t> DitModel::stage_blocks(int64_t layers, int64_t stages, int64_t stage) {
  const int64_t base = layers / stages, extra = layers % stages;
  const int64_t first = stage * base + std::min(stage, extra);
  return {first, first + base + (stage < extra ? 1 : 0)};
}

int DitModel::stage_holding(const Parameter& p) const {
  if (!p.one_stage) return -1;
  constexpr std::string_view kPrefix = "transformer_blocks.";
  SV_CHECK(p.name.starts_with(kPrefix), "DiT: {} is not a block's parameter", p.name);
  const int64_t block = std::stoll(p.name.substr(kPrefix.size()));
  for (int stage = 0; stage < groups_.pp_size(); ++stage) {
    const auto [first, last] = stage_blocks(config_.num_layers, groups_.pp_size(), stage);
    if (block >= first && block < last) return stage;
  }
  throw InternalError(fmt::format("DiT: block {} of {} is on no stage", block, config_.num_layers));
}

double DitModel::forward_flops(const DitConfig& c, int64_t batch, int64_t video_tokens,
                               int64_t text_tokens, int64_t clip_tokens) {
  const double d = static_cast<double>(c.inner_dim());
  const double s = static_cast<double>(video_tokens), l = static_cast<double>(text_tokens + clip_tokens);
  const double per_block = 2.0 * s * d * (3 * d)  // wqkv
                           + 2.0 * s * s * d * 2   // q k^T and p v
                           + 2.0 * s * d * d       // attn1.wo
                           + 2.0 * s * d * d       // attn2.wq
                           + 2.0 * l * d * (2 * d) // attn2.wkv over the text
                           + 2.0 * s * l * d * 2   // cross-attention scores and values
                           + 2.0 * s * d * d       // attn2.wo
                           + 2.0 * s * d * (8 * d); // ff in and out
  const double p2 = static_cast<double>(c.patch_size * c.patch_size);
  const double outer = 2.0 * s * d * static_cast<double>(c.in_channels) * p2 +
                       2.0 * static_cast<double>(text_tokens) * d *
                           (static_cast<double>(c.caption_channels) + d) +
                       2.0 * static_cast<double>(clip_tokens) * d * static_cast<double>(c.clip_channels) +
                       2.0 * s * d * static_cast<double>(c.out_channels) * p2;
  return static_cast<double>(batch) * (static_cast<double>(c.num_layers) * per_block + outer);
}

}  // namespace sv
