// Everything that defines a training run (`stepvideo train` options and INI
// keys, README "Training"), resolved and recorded in the run directory and in
// every checkpoint. A resumed run may change only how long it runs and how it
// reports (run-length and logging fields); any other change is refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "train/adamw.h"
#include "train/flow_matching.h"

namespace sv::train {

enum class LrSchedule { Constant, Cosine, Linear };
enum class Objective { FlowMatching, Dpo };

// The learning rate of optimizer step `step` (0-based): a linear warm-up from
// lr / warmup_steps, then `schedule` from lr down to lr_floor over
// [max(decay_start, warmup_steps), decay_steps).
double scheduled_learning_rate(LrSchedule schedule, double lr, double lr_floor, int64_t warmup_steps,
                               int64_t decay_start, int64_t decay_steps, int64_t step);

// AdamW's settings as config fields (option names: beta1, beta2, adam-eps,
// weight-decay, max-grad-norm), shared by every trainer's config: range
// checks (InputError naming the option), writing into and reading from JSON.
void validate_adamw_settings(const AdamWSettings& adamw);
void add_adamw_fields(nlohmann::json& j, const AdamWSettings& adamw);
AdamWSettings read_adamw_fields(const nlohmann::json& j, const std::filesystem::path& file);

struct TrainConfig {
  // What is trained on what.
  std::filesystem::path model, data;  // absolute
  Objective objective = Objective::FlowMatching;
  // Video-DPO (train/dpo.h): the frozen reference (absolute; "" = the
  // starting model), beta, and a refresh of the reference from the policy
  // every N steps (0: never).
  std::filesystem::path reference;
  double dpo_beta = 5000.0;
  int64_t reference_refresh_every = 0;
  uint64_t seed = 0;
  int64_t batch_size = 1, micro_batch_size = 0;  // 0: the whole batch at once
  // > 0: each shape bucket's global batch is floor(tokens_per_batch / video
  // tokens per sample), rounded down to a multiple of dp (batch_size unused).
  int64_t tokens_per_batch = 0;
  // Joint image + video training: the fraction of steps that train on an
  // image batch (images are 1-frame samples; train/batch_plan.h); < 0: no
  // set mix, batches come as the data's shapes fall.
  double image_share = -1.0;
  int64_t validation_samples = 0;                // held out of training (by id hash)
  // Optimisation.
  double lr = 1e-4, lr_floor = 0.0;
  LrSchedule lr_schedule = LrSchedule::Constant;
  // Decay over [decay_start, decay_steps): decay_start 0 means right after
  // the warm-up; decay_steps 0 means the first start's --steps.
  int64_t warmup_steps = 0, decay_start = 0, decay_steps = 0;
  AdamWSettings adamw;
  TimeSampler time;
  double text_dropout = 0.1;
  double ema_decay = 0.0;  // 0: no EMA
  int64_t max_bad_steps = 5;
  // Run length and reporting (may change on resume).
  int64_t steps = 100;
  bool activation_checkpointing = false;  // gives identical gradients
  double grad_bucket_mb = 25.0;  // data parallel: gradient buckets of about this many MiB
  int zero_stage = 0;            // 1: AdamW moments split over the dp x sp ranks (ShardedAdamW)
  double step_timeout = 0.0;     // multi-rank: seconds a step may take before the job is ended; 0: automatic
  int64_t checkpoint_every = 50, keep_checkpoints = 3, log_every = 10, validate_every = 0, sample_every = 0;
  // Sample videos: prompts one per line ("" = the first two training
  // captions), denoising steps, guidance and schedule shift.
  std::filesystem::path sample_prompts;
  int64_t sample_steps = 20;
  double sample_cfg_scale = 4.0, sample_time_shift = 3.0;

  double learning_rate(int64_t step) const;
  // InputError naming the field (as its option) that is out of range.
  void validate() const;

  nlohmann::json to_json() const;
  static TrainConfig from_json(const nlohmann::json& j, const std::filesystem::path& file);
  // The computation-defining fields (option names) whose values differ.
  std::vector<std::string> computation_differences(const TrainConfig& other) const;
};

LrSchedule parse_lr_schedule(const std::string& text);
Objective parse_objective(const std::string& text);
std::string objective_name(Objective objective);
std::string lr_schedule_name(LrSchedule schedule);
TimeSampling parse_time_sampling(const std::string& text);

}  // namespace sv::train
