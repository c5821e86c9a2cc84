// AdamW with global gradient-norm clipping, exactly as the training reference
// (fixtures/TRAIN.md) writes it: torch.nn.utils.clip_grad_norm_ followed by
// torch.optim.AdamW with two parameter groups, weight decay only for tensors
// of two or more dimensions. Moments are keyed by checkpoint name, so they
// follow a parameter whatever layout holds it (DESIGN.md section 6b).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "core/tensor.h"
#include "layers/parameter.h"

namespace sv::train {

struct AdamWSettings {
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.01f;  // for parameters of two or more dimensions only
  float max_grad_norm = 1.0f;  // 0: no clipping
};

// One parameter and its gradient (f32, the parameter's local shape).
struct ParameterGradient {
  Parameter* parameter;
  Tensor gradient;
};

struct AdamWMoments {
  Tensor exp_avg, exp_avg_sq;  // m and v, f32, shaped as the parameter
};

struct StepReport {
  double grad_norm = 0.0;  // before clipping
  bool clipped = false;
};

class AdamW {
 public:
  explicit AdamW(AdamWSettings settings);

  // One optimizer step at learning rate `lr`: the global norm of every
  // gradient, clipping (the gradients are scaled in place), decoupled weight
  // decay, moment updates and the bias-corrected step. Every parameter must
  // be loaded and its gradient shaped as it; NaN/Inf in a gradient is an
  // error before anything is changed.
  StepReport step(std::span<const ParameterGradient> params, float lr);
  // The same with the global norm given: under tensor parallel the gradients
  // here are slices, and the norm is taken over every rank's (the trainer's
  // global_grad_norm).
  StepReport step(std::span<const ParameterGradient> params, float lr, double grad_norm);

  int64_t steps_taken() const { return steps_; }
  // sqrt of the sum of every gradient element's square (what step() clips by).
  static double global_norm(std::span<const ParameterGradient> params);
  // A checkpoint's state: the steps taken (bias correction) and every moment.
  const std::map<std::string, AdamWMoments, std::less<>>& all_moments() const { return moments_; }
  void restore(int64_t steps_taken, std::map<std::string, AdamWMoments, std::less<>> moments);
  // The moments of a parameter, or nullptr before its first step.
  const AdamWMoments* moments(std::string_view name) const;
  const AdamWSettings& settings() const { return settings_; }

 private:
  AdamWSettings settings_;
  int64_t steps_ = 0;
  std::map<std::string, AdamWMoments, std::less<>> moments_;
};

}  // namespace sv::train
