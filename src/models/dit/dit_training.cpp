#include "models/dit/dit_training.h"

#include <algorithm>

#include "ops/accumulate.h"
#include "ops/activations.h"
#include "ops/layer_norm.h"
#include "ops/linear.h"
#include "ops/modulate.h"
#include "ops/patchify.h"
#include "ops/timestep_embedding.h"
#include "parallel/ulysses.h"

namespace sv {

namespace {

constexpr int64_t kTimestepChannels = 256;

Tensor activated(const Tensor& x, void (*activation)(Tensor&)) {
  Tensor y = x.clone();
  activation(y);
  return y;
}


// This rank's range of tokens (axis 1) of a [B, S, ...] tensor.
Tensor own_tokens(const Tensor& t, const TokenSplit& split, int rank) {
  if (split.counts.size() == 1) return t;
  const auto r = static_cast<size_t>(rank);
  return t.slice(1, split.offsets[r], split.offsets[r] + split.counts[r]).contiguous();
}

}  // namespace

struct DitTrainingPass::State {
  DitModel::VideoShape shape{};
  ops::RopeGrid grid{};
  TokenSplit split;
  std::vector<int64_t> kv_lens;
  int64_t clip_tokens = 0, caption_tokens = 0;
  // Conditioning.
  Tensor patches;  // this rank's [B, S_r, C p^2]
  Linear::Saved time1, time2, adaln, caption1, caption2, clip;
  Tensor time_hidden, embedded, caption_hidden;  // before their activations
  Tensor text, t6;
  // Blocks: every Saved, or (checkpointing) only each block's input.
  std::vector<DitBlock::Saved> blocks;
  std::vector<Tensor> block_inputs;
  // Output layer.
  LayerNorm::Saved norm_out;
  Tensor normed, shift_scale;  // norm_out's output; [B, 2, D] table + embedded
  Linear::Saved proj_out;
  // The conditioning's input gradients (backward_stage to backward_conditioning).
  Tensor dt6, dtext, d_embedded;
};

DitTrainingPass::DitTrainingPass(const DitModel& model, DitTrainingOptions options)
    : model_(model), options_(options) {}

DitTrainingPass::~DitTrainingPass() = default;

void DitTrainingPass::forward_conditioning(const DitInputs& in, int64_t batch) {
  const DitModel& m = model_;
  State& s = *state_;
  const Tensor t = in.timestep.to(DType::F32).contiguous().reshape(Shape{batch});
  s.time_hidden = m.time_linear_1_->forward(ops::timestep_embedding(t, kTimestepChannels), s.time1);
  s.embedded = m.time_linear_2_->forward(activated(s.time_hidden, ops::silu_), s.time2);
  s.t6 = m.adaln_linear_->forward(activated(s.embedded, ops::silu_), s.adaln);

  const Tensor y = in.encoder_hidden_states.to(DType::F32).contiguous();
  const Tensor normed = ops::layer_norm(y, Tensor(), Tensor(), m.config_.norm_eps);
  s.caption_hidden = m.caption_linear_1_->forward(normed, s.caption1);
  const Tensor caption = m.caption_linear_2_->forward(activated(s.caption_hidden, ops::gelu_tanh_), s.caption2);
  s.caption_tokens = caption.dim(1);
  Tensor text = caption;
  if (m.clip_projection_ && in.encoder_hidden_states_2.defined()) {
    const Tensor clip = m.clip_projection_->forward(in.encoder_hidden_states_2.to(DType::F32).contiguous(), s.clip);
    s.clip_tokens = clip.dim(1);
    text = Tensor::empty(Shape{batch, clip.dim(1) + caption.dim(1), m.config_.inner_dim()}, DType::F32);
    text.slice(1, 0, clip.dim(1)).copy_from(clip);
    text.slice(1, clip.dim(1), text.dim(1)).copy_from(caption);
  }
  s.kv_lens = DitModel::key_lengths(in.encoder_attention_mask, batch, text.dim(1));
  const int64_t max_len = *std::max_element(s.kv_lens.begin(), s.kv_lens.end());
  s.text = text.slice(1, 0, max_len).contiguous();
}

Tensor DitTrainingPass::forward(const DitInputs& in) {
  SV_CHECK_AS(ConfigError, model_.groups().pp_size() == 1,
              "DitTrainingPass::forward runs the whole model; under pp={} each stage runs forward_stage",
              model_.groups().pp_size());
  return forward_stage(in, Tensor());
}

Tensor DitTrainingPass::forward_stage(const DitInputs& in, const Tensor& x_in) {
  const DitModel& m = model_;
  state_ = std::make_unique<State>();
  State& s = *state_;
  s.shape = m.check_video(in);
  const auto [batch, frames, hp, wp] = s.shape;
  s.grid = ops::RopeGrid{frames, hp, wp};
  s.split = m.token_split(s.grid.tokens());

  Tensor x;
  if (m.groups_.pp_rank() == 0) {
    s.patches = own_tokens(ops::patchify(in.hidden_states.to(DType::F32).contiguous(), m.config_.patch_size),
                           s.split, m.groups_.sp_rank());
    x = ops::linear(s.patches, m.patch_weight_matrix(), m.patch_bias_->value);
  } else {
    SV_CHECK(x_in.defined() && x_in.rank() == 3 && x_in.dim(0) == batch,
             "DiT pipeline stage {}: input activation {} for a batch of {}", m.groups_.pp_rank(),
             x_in.defined() ? x_in.describe() : "undefined", batch);
    x = x_in;
  }
  forward_conditioning(in, batch);

  const auto first = static_cast<size_t>(m.first_block_), last = static_cast<size_t>(m.last_block_);
  if (options_.activation_checkpointing) {
    s.block_inputs.reserve(last - first);
  } else {
    s.blocks.resize(last - first);
  }
  for (size_t i = first; i < last; ++i) {
    if (options_.activation_checkpointing) {
      s.block_inputs.push_back(x);
      DitBlock::Saved transient;  // dropped at once; rebuilt in backward
      x = m.blocks_[i]->forward(x, s.text, s.kv_lens, s.t6, s.grid, s.split, transient);
    } else {
      x = m.blocks_[i]->forward(x, s.text, s.kv_lens, s.t6, s.grid, s.split, s.blocks[i - first]);
    }
  }
  return m.groups_.pp_rank() == m.groups_.pp_size() - 1 ? output_layer(x) : x;
}

Tensor DitTrainingPass::output_layer(const Tensor& x) {
  const DitModel& m = model_;
  State& s = *state_;
  const int64_t batch = s.shape.batch, d = m.config_.inner_dim(), p = m.config_.patch_size;
  s.normed = m.norm_out_->forward(x, s.norm_out);
  s.shift_scale = Tensor::empty(Shape{batch, 2, d}, DType::F32);
  const float* table = m.scale_shift_table_->value.data<float>();
  const float* e = s.embedded.data<float>();
  float* ss = s.shift_scale.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t k = 0; k < 2; ++k) {
      for (int64_t i = 0; i < d; ++i) ss[(b * 2 + k) * d + i] = table[k * d + i] + e[b * d + i];
    }
  }
  Tensor h = s.normed.clone();
  ops::modulate_(h, s.shift_scale.select(1, 0), s.shift_scale.select(1, 1));
  const Tensor out = gather_tokens(m.proj_out_->forward(h, s.proj_out), s.split, *m.groups_.sp);
  return ops::unpatchify(out, s.shape.frames, s.shape.hp, s.shape.wp, p, m.config_.out_channels);
}

void DitTrainingPass::backward(const Tensor& dprediction, Gradients& grads) {
  backward_stage(dprediction, grads);
  backward_conditioning(grads);
}

Shape DitTrainingPass::stage_boundary_shape(const DitModel& m, const DitInputs& in) {
  const DitModel::VideoShape shape = m.check_video(in);
  const TokenSplit split = m.token_split(shape.frames * shape.hp * shape.wp);
  return Shape{shape.batch, split.counts[static_cast<size_t>(m.groups_.sp_rank())], m.config_.inner_dim()};
}

std::vector<const Parameter*> DitTrainingPass::stage_edge_parameters(const DitModel& m) {
  std::vector<const Parameter*> edge{m.patch_weight_, m.patch_bias_, m.scale_shift_table_};
  for (const auto& p : m.registry().parameters()) {
    if (p->name.starts_with("norm_out.") || p->name.starts_with("proj_out.")) edge.push_back(p.get());
  }
  return edge;
}

std::vector<Tensor*> DitTrainingPass::conditioning_input_gradients() {
  SV_CHECK(state_ && state_->dt6.defined(), "DitTrainingPass: conditioning gradients before backward_stage");
  return {&state_->dt6, &state_->dtext, &state_->d_embedded};
}

void DitTrainingPass::backward_conditioning(Gradients& grads) {
  SV_CHECK(state_ && state_->dt6.defined(), "DitTrainingPass::backward_conditioning before backward_stage");
  State& s = *state_;
  conditioning_backward(s.dt6, s.d_embedded, s.dtext, grads);
  state_.reset();
}

Tensor DitTrainingPass::backward_stage(const Tensor& dy, Gradients& grads) {
  SV_CHECK(state_, "DitTrainingPass::backward without a forward");
  const DitModel& m = model_;
  State& s = *state_;
  const int64_t batch = s.shape.batch, d = m.config_.inner_dim();
  const bool first_stage = m.groups_.pp_rank() == 0, last_stage = m.groups_.pp_rank() == m.groups_.pp_size() - 1;
  SV_CHECK(dy.defined() && dy.rank() == (last_stage ? 5 : 3) && dy.dim(0) == batch,
           "DiT backward: {} gradient {} for a batch of {}", last_stage ? "prediction" : "stage output",
           dy.defined() ? dy.describe() : "undefined", batch);

  Tensor d_embedded = Tensor::zeros(Shape{batch, d}, DType::F32);
  Tensor dx = last_stage ? output_layer_backward(dy, d_embedded, grads) : dy.contiguous();

  Tensor dtext = Tensor::zeros(s.text.shape(), DType::F32);
  Tensor dt6 = Tensor::zeros(s.t6.shape(), DType::F32);
  const auto first = static_cast<size_t>(m.first_block_), last = static_cast<size_t>(m.last_block_);
  for (size_t i = last; i-- > first;) {
    DitBlock::InputGradients g;
    if (options_.activation_checkpointing) {
      DitBlock::Saved saved;
      m.blocks_[i]->forward(s.block_inputs[i - first], s.text, s.kv_lens, s.t6, s.grid, s.split, saved);
      g = m.blocks_[i]->backward(dx, s.kv_lens, s.grid, s.split, saved, grads);
      s.block_inputs[i - first] = Tensor();
    } else {
      g = m.blocks_[i]->backward(dx, s.kv_lens, s.grid, s.split, s.blocks[i - first], grads);
      s.blocks[i - first] = DitBlock::Saved{};  // free as we go
    }
    dx = std::move(g.dx);
    ops::accumulate_(dtext, g.dtext);
    ops::accumulate_(dt6, g.dt6);
    if (options_.block_gradients_done) options_.block_gradients_done(static_cast<int64_t>(i));
  }

  s.dt6 = std::move(dt6);
  s.dtext = std::move(dtext);
  s.d_embedded = std::move(d_embedded);
  // Only the conditioning's saved tensors wait for backward_conditioning (the
  // pipeline keeps every micro-batch's until it drains): free the rest now.
  s.norm_out = LayerNorm::Saved{};
  s.proj_out = Linear::Saved{};
  s.normed = s.shift_scale = Tensor();
  if (!first_stage) return dx;
  // Patch embedding: a linear map of patches (the video itself needs no gradient).
  Tensor dweight = grads.of(*m.patch_weight_).reshape(m.patch_weight_matrix().shape());
  ops::linear_parameter_gradients(s.patches, m.patch_weight_matrix(), dx, &dweight, &grads.of(*m.patch_bias_));
  s.patches = Tensor();
  return Tensor();
}

Tensor DitTrainingPass::output_layer_backward(const Tensor& dprediction, Tensor& d_embedded, Gradients& grads) {
  const DitModel& m = model_;
  State& s = *state_;
  const int64_t batch = s.shape.batch, d = m.config_.inner_dim();
  const Tensor dtokens = own_tokens(ops::unpatchify_backward(dprediction.contiguous(), m.config_.patch_size),
                                    s.split, m.groups_.sp_rank());
  const Tensor dh = m.proj_out_->backward(dtokens, s.proj_out, grads);
  Tensor dss = Tensor::zeros(Shape{batch, 2, d}, DType::F32);
  Tensor dshift = dss.select(1, 0), dscale = dss.select(1, 1);
  const Tensor dnormed = ops::modulate_backward(s.normed, s.shift_scale.select(1, 1), dh, dshift, dscale);
  // shift_scale[b, k] = table[k] + embedded[b]
  Tensor& dtable = grads.of(*m.scale_shift_table_);
  const float* g = dss.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t k = 0; k < 2; ++k) {
      for (int64_t i = 0; i < d; ++i) {
        dtable.data<float>()[k * d + i] += g[(b * 2 + k) * d + i];
        d_embedded.data<float>()[b * d + i] += g[(b * 2 + k) * d + i];
      }
    }
  }
  return m.norm_out_->backward(dnormed, s.norm_out, grads);
}

void DitTrainingPass::conditioning_backward(const Tensor& dt6, Tensor& d_embedded, const Tensor& dtext,
                                            Gradients& grads) {
  const DitModel& m = model_;
  State& s = *state_;
  // t6 = adaln(silu(embedded)); embedded = linear_2(silu(linear_1(t_proj))).
  ops::accumulate_(d_embedded, ops::silu_backward(s.embedded, m.adaln_linear_->backward(dt6, s.adaln, grads)));
  const Tensor dhidden = ops::silu_backward(s.time_hidden, m.time_linear_2_->backward(d_embedded, s.time2, grads));
  m.time_linear_1_->backward_parameters(dhidden, s.time1, grads);

  // text = [clip | caption] cut to the longest key length: the cut-off rows get no gradient.
  const int64_t batch = s.shape.batch, d = m.config_.inner_dim();
  Tensor dfull = Tensor::zeros(Shape{batch, s.clip_tokens + s.caption_tokens, d}, DType::F32);
  dfull.slice(1, 0, dtext.dim(1)).copy_from(dtext);
  if (s.clip_tokens > 0) {
    m.clip_projection_->backward_parameters(dfull.slice(1, 0, s.clip_tokens).contiguous(), s.clip, grads);
  }
  const Tensor dcaption = dfull.slice(1, s.clip_tokens, dfull.dim(1)).contiguous();
  const Tensor dcaption_act = m.caption_linear_2_->backward(dcaption, s.caption2, grads);
  m.caption_linear_1_->backward_parameters(ops::gelu_tanh_backward(s.caption_hidden, dcaption_act), s.caption1, grads);
}

}  // namespace sv
