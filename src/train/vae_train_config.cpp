#include "train/vae_train_config.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace sv::train {

using nlohmann::json;

void VaeTrainConfig::validate() const {
  auto require = [](bool ok, const char* what) { SV_CHECK_AS(InputError, ok, "{}", what); };
  require(steps >= 1, "--steps must be at least 1");
  require(batch_size >= 1, "--batch-size must be at least 1");
  require(frames == 17 || frames == 9, "--frames must be 17 or 9 (a whole chunk of the VAE)");
  require(height >= 16 && width >= 16 && height % 16 == 0 && width % 16 == 0,
          "--height and --width must be multiples of 16");
  require(image_share <= 1, "--image-share must be in [0, 1] (the fraction of image batches)");
  require(std::isfinite(kl_weight) && kl_weight >= 0, "--kl-weight must be >= 0");
  require(std::isfinite(l2_weight) && l2_weight >= 0, "--l2-weight must be >= 0");
  require(std::isnan(init_logvar) || (init_logvar >= -30 && init_logvar <= 20), "--init-logvar must be in [-30, 20]");
  require(std::isfinite(lr) && lr > 0, "--lr must be a finite number above 0");
  require(std::isfinite(lr_floor) && lr_floor >= 0 && lr_floor <= lr, "--lr-floor must be in [0, --lr]");
  require(std::isfinite(lr_fan_in) && lr_fan_in >= 0, "--lr-fan-in must be >= 0 (0: off)");
  require(warmup_steps >= 0, "--warmup-steps must be >= 0");
  validate_adamw_settings(adamw);
  require(max_bad_steps >= 1, "--max-bad-steps must be at least 1");
  require(checkpoint_every >= 1, "--checkpoint-every must be at least 1");
  require(keep_checkpoints >= 1, "--keep-checkpoints must be at least 1");
  require(log_every >= 1, "--log-every must be at least 1");
}

namespace {

json computation_fields(const VaeTrainConfig& c) {
  json j{{"model", c.model.string()},
              {"data", c.data.string()},
              {"seed", c.seed},
              {"batch-size", c.batch_size},
              {"height", c.height},
              {"width", c.width},
              {"frames", c.frames},
              {"image-share", c.image_share},
              {"kl-weight", c.kl_weight},
              {"l2-weight", c.l2_weight},
              {"init-logvar", std::isnan(c.init_logvar) ? json(nullptr) : json(c.init_logvar)},
              {"zero-init-residuals", c.zero_init_residuals},
              {"lr", c.lr},
              {"lr-floor", c.lr_floor},
              {"lr-fan-in", c.lr_fan_in},
              {"lr-schedule", lr_schedule_name(c.lr_schedule)},
              {"warmup-steps", c.warmup_steps},
              {"max-bad-steps", c.max_bad_steps}};
  add_adamw_fields(j, c.adamw);
  return j;
}

}  // namespace

json VaeTrainConfig::to_json() const {
  json j = computation_fields(*this);
  j["component"] = "vae";
  j["steps"] = steps;
  j["checkpoint-every"] = checkpoint_every;
  j["keep-checkpoints"] = keep_checkpoints;
  j["log-every"] = log_every;
  return j;
}

VaeTrainConfig VaeTrainConfig::from_json(const json& j, const std::filesystem::path& file) {
  SV_CHECK_AS(InputError, j.is_object() && j.value("component", "") == "vae", "{}: not a VAE training config",
              file.string());
  using io::json_require;
  VaeTrainConfig c;
  c.model = json_require<std::string>(j, "model", file);
  c.data = json_require<std::string>(j, "data", file);
  c.seed = json_require<uint64_t>(j, "seed", file);
  c.batch_size = json_require<int64_t>(j, "batch-size", file);
  c.height = json_require<int64_t>(j, "height", file);
  c.width = json_require<int64_t>(j, "width", file);
  c.frames = json_require<int64_t>(j, "frames", file);
  c.image_share = json_require<double>(j, "image-share", file);
  c.kl_weight = json_require<double>(j, "kl-weight", file);
  c.l2_weight = j.value("l2-weight", 0.0);  // absent in the first VAE runs: L1 alone
  c.zero_init_residuals = j.value("zero-init-residuals", false);
  const json init = j.value("init-logvar", json(nullptr));
  c.init_logvar = init.is_number() ? init.get<double>() : std::numeric_limits<double>::quiet_NaN();
  c.lr = json_require<double>(j, "lr", file);
  c.lr_floor = json_require<double>(j, "lr-floor", file);
  c.lr_fan_in = j.value("lr-fan-in", 0.0);  // absent in the first VAE runs: off
  c.lr_schedule = parse_lr_schedule(json_require<std::string>(j, "lr-schedule", file));
  c.warmup_steps = json_require<int64_t>(j, "warmup-steps", file);
  c.adamw = read_adamw_fields(j, file);
  c.max_bad_steps = json_require<int64_t>(j, "max-bad-steps", file);
  c.steps = json_require<int64_t>(j, "steps", file);
  c.checkpoint_every = json_require<int64_t>(j, "checkpoint-every", file);
  c.keep_checkpoints = json_require<int64_t>(j, "keep-checkpoints", file);
  c.log_every = json_require<int64_t>(j, "log-every", file);
  return c;
}

double VaeTrainConfig::lr_scale(const Shape& shape) const {
  if (lr_fan_in <= 0 || shape.rank() < 2 || shape[0] == 0) return 1.0;  // biases and norms: lr
  const auto fan_in = static_cast<double>(shape.numel() / shape[0]);
  return std::min(1.0, lr_fan_in / fan_in);
}

std::vector<std::string> VaeTrainConfig::computation_differences(const VaeTrainConfig& other) const {
  const json a = computation_fields(*this), b = computation_fields(other);
  std::vector<std::string> fields;
  for (const auto& [key, value] : a.items()) {
    if (b.at(key) != value) fields.push_back(key + " (" + b.at(key).dump() + " -> " + value.dump() + ")");
  }
  return fields;
}

}  // namespace sv::train
