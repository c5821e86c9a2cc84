// StepVideoModel, the Step-Video-T2V diffusion transformer (upstream
// stepvideo/modules/model.py), on the CPU in f32.
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "layers/linear.h"
#include "layers/norms.h"
#include "layers/parameter.h"
#include "models/dit/dit_block.h"
#include "models/dit/dit_config.h"
#include "parallel/parallel_groups.h"
#include "parallel/token_split.h"

namespace sv {

struct DitInputs {
  Tensor hidden_states;            // f32 [B, F, C, H, W] latents
  Tensor timestep;                 // f32 [B], flow time t in [0, 1]
  Tensor encoder_hidden_states;    // f32 [B, L, caption_channels] (Step-LLM)
  Tensor encoder_hidden_states_2;  // f32 [B, Lc, clip_channels] (HunyuanCLIP) or undefined
  Tensor encoder_attention_mask;   // [B, Lc + L] over [clip | llm]; only row sums are used
};

// Called with upstream module paths ("patch_embed", "transformer_blocks.3", ...)
// and their outputs, so fixtures can compare intermediate results.
using TraceFn = std::function<void(std::string_view name, const Tensor& value)>;

class DitModel {
 public:
  // Declares every parameter; call load_parameters / init_parameters_random on
  // registry() before forward().
  DitModel(const DitConfig& config, const ParallelGroups& groups);

  ParameterRegistry& registry() { return registry_; }
  const ParameterRegistry& registry() const { return registry_; }
  const DitConfig& config() const { return config_; }
  const ParallelGroups& groups() const { return groups_; }

  // Returns the velocity prediction, f32 [B, F, out_channels, H, W].
  Tensor forward(const DitInputs& inputs, const TraceFn& trace = {}) const;

  // Blocks [first, last) run on this pipeline stage.
  int64_t first_block() const { return first_block_; }
  int64_t last_block() const { return last_block_; }
  // The pipeline stage that holds a parameter, or -1 when every stage does.
  int stage_holding(const Parameter& parameter) const;

  // Matrix-multiply FLOPs of one forward pass (linear layers and both
  // attentions), for benchmarks.
  static double forward_flops(const DitConfig& config, int64_t batch, int64_t video_tokens,
                              int64_t text_tokens, int64_t clip_tokens);

 private:
  friend class DitTrainingPass;  // the same computation, keeping what backward needs

  // Contiguous layer ranges [first, last), the first stages one layer longer when uneven.
  static std::pair<int64_t, int64_t> stage_blocks(int64_t layers, int64_t stages, int64_t stage);

  struct VideoShape {
    int64_t batch, frames, hp, wp;  // hp, wp: patches per column and row
  };
  // Checks the inputs' shapes against the config (InputError naming the tensor).
  VideoShape check_video(const DitInputs& in) const;
  Tensor patch_weight_matrix() const;  // pos_embed.proj as [D, C p^2]
  // kv_len per row of the [clip | llm] mask.
  static std::vector<int64_t> key_lengths(const Tensor& mask, int64_t batch, int64_t keys);
  // This layout's split of the video tokens over the sequence-parallel group.
  TokenSplit token_split(int64_t tokens) const;

  // Runs this stage's blocks on x (this rank's tokens), receiving from and
  // sending to the neighbouring pipeline stages one batch row at a time so
  // the stages overlap.
  Tensor output_layer(const Tensor& x, const Tensor& embedded_timestep, const TokenSplit& split,
                      int64_t frames, int64_t hp, int64_t wp) const;
  void run_blocks(Tensor& x, const Tensor& text, const std::vector<int64_t>& kv_lens,
                  const Tensor& t6, const ops::RopeGrid& grid, const TokenSplit& split,
                  const TraceFn& trace) const;

  DitConfig config_;
  ParallelGroups groups_;
  int64_t first_block_ = 0, last_block_ = 0;
  ParameterRegistry registry_;
  // Declared in the constructor in upstream state_dict order.
  Parameter* scale_shift_table_;  // [2, D]
  Parameter* patch_weight_;       // pos_embed.proj: Conv2d [D, C, p, p]
  Parameter* patch_bias_;
  std::vector<std::unique_ptr<DitBlock>> blocks_;
  std::unique_ptr<LayerNorm> norm_out_;
  std::unique_ptr<Linear> proj_out_;
  std::unique_ptr<Linear> time_linear_1_, time_linear_2_;  // adaln_single.emb.timestep_embedder
  std::unique_ptr<Linear> adaln_linear_;                   // adaln_single.linear
  std::unique_ptr<Linear> clip_projection_;
  std::unique_ptr<Linear> caption_linear_1_, caption_linear_2_;
};

}  // namespace sv
