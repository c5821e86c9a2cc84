#include "train/train_config.h"

#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace sv::train {

using nlohmann::json;

LrSchedule parse_lr_schedule(const std::string& text) {
  if (text == "constant") return LrSchedule::Constant;
  if (text == "cosine") return LrSchedule::Cosine;
  if (text == "linear") return LrSchedule::Linear;
  throw InputError("--lr-schedule must be constant, cosine or linear, got '" + text + "'");
}

std::string lr_schedule_name(LrSchedule schedule) {
  switch (schedule) {
    case LrSchedule::Constant: return "constant";
    case LrSchedule::Cosine: return "cosine";
    case LrSchedule::Linear: return "linear";
  }
  return "?";
}

TimeSampling parse_time_sampling(const std::string& text) {
  if (text == "uniform") return TimeSampling::Uniform;
  if (text == "logit-normal") return TimeSampling::LogitNormal;
  throw InputError("--time-sampling must be uniform or logit-normal, got '" + text + "'");
}

double scheduled_learning_rate(LrSchedule schedule, double lr, double lr_floor, int64_t warmup_steps,
                               int64_t decay_start, int64_t decay_steps, int64_t step) {
  if (warmup_steps > 0 && step < warmup_steps) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  if (schedule == LrSchedule::Constant) return lr;
  const int64_t begin = std::max(decay_start, warmup_steps);
  if (step < begin) return lr;
  const double span = static_cast<double>(std::max<int64_t>(decay_steps - begin, 1));
  const double progress = std::min(1.0, static_cast<double>(step - begin) / span);
  const double shape = schedule == LrSchedule::Cosine ? 0.5 * (1.0 + std::cos(std::numbers::pi * progress))
                                                      : 1.0 - progress;
  return lr_floor + (lr - lr_floor) * shape;
}

double TrainConfig::learning_rate(int64_t step) const {
  return scheduled_learning_rate(lr_schedule, lr, lr_floor, warmup_steps, decay_start, decay_steps, step);
}

void validate_adamw_settings(const AdamWSettings& adamw) {
  auto require = [](bool ok, const char* what) { SV_CHECK_AS(InputError, ok, "{}", what); };
  require(adamw.beta1 >= 0 && adamw.beta1 < 1 && adamw.beta2 >= 0 && adamw.beta2 < 1,
          "--beta1 and --beta2 must be in [0, 1)");
  require(adamw.eps > 0, "--adam-eps must be above 0");
  require(adamw.weight_decay >= 0, "--weight-decay must be >= 0");
  require(adamw.max_grad_norm >= 0, "--max-grad-norm must be >= 0 (0: no clipping)");
}

void add_adamw_fields(json& j, const AdamWSettings& adamw) {
  j["beta1"] = adamw.beta1;
  j["beta2"] = adamw.beta2;
  j["adam-eps"] = adamw.eps;
  j["weight-decay"] = adamw.weight_decay;
  j["max-grad-norm"] = adamw.max_grad_norm;
}

AdamWSettings read_adamw_fields(const json& j, const std::filesystem::path& file) {
  using io::json_require;
  AdamWSettings a;
  a.beta1 = json_require<float>(j, "beta1", file);
  a.beta2 = json_require<float>(j, "beta2", file);
  a.eps = json_require<float>(j, "adam-eps", file);
  a.weight_decay = json_require<float>(j, "weight-decay", file);
  a.max_grad_norm = json_require<float>(j, "max-grad-norm", file);
  return a;
}

void TrainConfig::validate() const {
  auto require = [](bool ok, const std::string& what) { SV_CHECK_AS(InputError, ok, "{}", what); };
  require(steps >= 1, "--steps must be at least 1");
  require(batch_size >= 1, "--batch-size must be at least 1");
  require(micro_batch_size >= 0 &&
              (micro_batch_size == 0 || tokens_per_batch > 0 || batch_size % micro_batch_size == 0),
          "--micro-batch-size must divide --batch-size");  // per shape under --tokens-per-batch (trainer)
  require(validation_samples >= 0, "--validation-samples must be >= 0");
  require(std::isfinite(lr) && lr > 0, "--lr must be a finite number above 0");
  require(std::isfinite(lr_floor) && lr_floor >= 0 && lr_floor <= lr, "--lr-floor must be in [0, --lr]");
  require(warmup_steps >= 0 && decay_start >= 0 && decay_steps >= 0,
          "--warmup-steps, --decay-start and --decay-steps must be >= 0");
  validate_adamw_settings(adamw);
  time.validate();
  require(text_dropout >= 0 && text_dropout <= 1, "--text-dropout must be in [0, 1]");
  require(ema_decay >= 0 && ema_decay < 1, "--ema-decay must be in [0, 1) (0: no EMA)");
  require(max_bad_steps >= 1, "--max-bad-steps must be at least 1");
  require(checkpoint_every >= 1, "--checkpoint-every must be at least 1");
  require(keep_checkpoints >= 1, "--keep-checkpoints must be at least 1");
  require(log_every >= 1, "--log-every must be at least 1");
  require(validate_every >= 0 && sample_every >= 0, "--validate-every and --sample-every must be >= 0");
  require(sample_steps >= 1, "--sample-steps must be at least 1");
  require(std::isfinite(sample_cfg_scale) && sample_cfg_scale >= 1, "--sample-cfg-scale must be >= 1 (1: no guidance)");
  require(std::isfinite(sample_time_shift) && sample_time_shift > 0, "--sample-time-shift must be above 0");
  require(std::isfinite(grad_bucket_mb) && grad_bucket_mb > 0, "--grad-bucket-mb must be above 0");
  require(tokens_per_batch >= 0, "--tokens-per-batch must be >= 0 (0: --batch-size for every shape)");
  require(image_share < 0 || image_share <= 1, "--image-share must be in [0, 1] (the fraction of image batches)");
  require(zero_stage == 0 || zero_stage == 1, "--zero must be 0 or 1 (stage 1: optimizer state split over dp)");
  require(std::isfinite(dpo_beta) && dpo_beta > 0, "--dpo-beta must be above 0");
  require(reference_refresh_every >= 0, "--reference-refresh-every must be >= 0 (0: never)");
  require(objective == Objective::Dpo || (reference.empty() && reference_refresh_every == 0),
          "--reference and --reference-refresh-every belong to --objective dpo");
  require(std::isfinite(step_timeout) && step_timeout >= 0, "--step-timeout must be >= 0 seconds (0: automatic)");
}

namespace {

// The computation-defining fields, by option name.
json computation_fields(const TrainConfig& c) {
  json j{{"model", c.model.string()},
              {"data", c.data.string()},
              {"seed", c.seed},
              {"batch-size", c.batch_size},
              {"tokens-per-batch", c.tokens_per_batch},
              {"image-share", c.image_share},
              {"validation-samples", c.validation_samples},
              {"lr", c.lr},
              {"lr-floor", c.lr_floor},
              {"lr-schedule", lr_schedule_name(c.lr_schedule)},
              {"warmup-steps", c.warmup_steps},
              {"decay-start", c.decay_start},
              {"decay-steps", c.decay_steps},
              {"time-sampling", c.time.kind == TimeSampling::Uniform ? "uniform" : "logit-normal"},
              {"logit-mean", c.time.logit_mean},
              {"logit-std", c.time.logit_std},
              {"time-shift", c.time.shift},
              {"text-dropout", c.text_dropout},
              {"ema-decay", c.ema_decay},
              {"max-bad-steps", c.max_bad_steps},
              {"objective", objective_name(c.objective)},
              {"reference", c.reference.string()},
              {"dpo-beta", c.dpo_beta},
              {"reference-refresh-every", c.reference_refresh_every}};
  add_adamw_fields(j, c.adamw);
  return j;
}

}  // namespace

json TrainConfig::to_json() const {
  json j = computation_fields(*this);
  j["steps"] = steps;
  // How the work is split changes results only by float rounding: free to
  // change on resume, like the layout.
  j["micro-batch-size"] = micro_batch_size;
  j["activation-checkpointing"] = activation_checkpointing;
  j["checkpoint-every"] = checkpoint_every;
  j["keep-checkpoints"] = keep_checkpoints;
  j["log-every"] = log_every;
  j["validate-every"] = validate_every;
  j["sample-every"] = sample_every;
  j["sample-prompts"] = sample_prompts.string();
  j["sample-steps"] = sample_steps;
  j["sample-cfg-scale"] = sample_cfg_scale;
  j["sample-time-shift"] = sample_time_shift;
  j["grad-bucket-mb"] = grad_bucket_mb;
  j["zero"] = zero_stage;
  j["step-timeout"] = step_timeout;
  return j;
}

TrainConfig TrainConfig::from_json(const json& j, const std::filesystem::path& file) {
  using io::json_require;
  TrainConfig c;
  c.model = json_require<std::string>(j, "model", file);
  c.data = json_require<std::string>(j, "data", file);
  c.seed = json_require<uint64_t>(j, "seed", file);
  c.batch_size = json_require<int64_t>(j, "batch-size", file);
  c.micro_batch_size = json_require<int64_t>(j, "micro-batch-size", file);
  c.validation_samples = json_require<int64_t>(j, "validation-samples", file);
  c.lr = json_require<double>(j, "lr", file);
  c.lr_floor = json_require<double>(j, "lr-floor", file);
  c.lr_schedule = parse_lr_schedule(json_require<std::string>(j, "lr-schedule", file));
  c.warmup_steps = json_require<int64_t>(j, "warmup-steps", file);
  c.decay_start = json_require<int64_t>(j, "decay-start", file);
  c.decay_steps = json_require<int64_t>(j, "decay-steps", file);
  c.adamw = read_adamw_fields(j, file);
  c.time.kind = parse_time_sampling(json_require<std::string>(j, "time-sampling", file));
  c.time.logit_mean = json_require<double>(j, "logit-mean", file);
  c.time.logit_std = json_require<double>(j, "logit-std", file);
  c.time.shift = json_require<double>(j, "time-shift", file);
  c.text_dropout = json_require<double>(j, "text-dropout", file);
  c.ema_decay = json_require<double>(j, "ema-decay", file);
  c.max_bad_steps = json_require<int64_t>(j, "max-bad-steps", file);
  c.steps = json_require<int64_t>(j, "steps", file);
  c.activation_checkpointing = json_require<bool>(j, "activation-checkpointing", file);
  c.checkpoint_every = json_require<int64_t>(j, "checkpoint-every", file);
  c.keep_checkpoints = json_require<int64_t>(j, "keep-checkpoints", file);
  c.log_every = json_require<int64_t>(j, "log-every", file);
  c.validate_every = json_require<int64_t>(j, "validate-every", file);
  c.sample_every = json_require<int64_t>(j, "sample-every", file);
  c.sample_prompts = json_require<std::string>(j, "sample-prompts", file);
  c.sample_steps = json_require<int64_t>(j, "sample-steps", file);
  c.sample_cfg_scale = json_require<double>(j, "sample-cfg-scale", file);
  c.sample_time_shift = json_require<double>(j, "sample-time-shift", file);
  c.grad_bucket_mb = j.value("grad-bucket-mb", c.grad_bucket_mb);  // both absent before multi-rank training
  c.step_timeout = j.value("step-timeout", c.step_timeout);
  c.zero_stage = j.value("zero", c.zero_stage);
  c.tokens_per_batch = j.value("tokens-per-batch", c.tokens_per_batch);  // absent before it existed
  c.image_share = j.value("image-share", c.image_share);
  // Absent before Video-DPO: flow matching.
  c.objective = parse_objective(j.value("objective", objective_name(c.objective)));
  c.reference = j.value("reference", std::string());
  c.dpo_beta = j.value("dpo-beta", c.dpo_beta);
  c.reference_refresh_every = j.value("reference-refresh-every", c.reference_refresh_every);
  return c;
}

Objective parse_objective(const std::string& text) {
  if (text == "flow-matching") return Objective::FlowMatching;
  if (text == "dpo") return Objective::Dpo;
  throw InputError(fmt::format("--objective must be flow-matching or dpo, got '{}'", text));
}

std::string objective_name(Objective objective) {
  return objective == Objective::Dpo ? "dpo" : "flow-matching";
}

std::vector<std::string> TrainConfig::computation_differences(const TrainConfig& other) const {
  const json a = computation_fields(*this), b = computation_fields(other);
  std::vector<std::string> fields;
  for (const auto& [key, value] : a.items()) {
    if (b.at(key) != value) fields.push_back(key + " (" + b.at(key).dump() + " -> " + value.dump() + ")");
  }
  return fields;
}

}  // namespace sv::train
