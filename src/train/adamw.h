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
  // This parameter's learning rate relative to the step's (1 for every DiT
  // parameter; the VAE trainer lowers it for wide-input layers).
  float lr_scale = 1.0f;
};

struct AdamWMoments {
  Tensor exp_avg, exp_avg_sq;  // m and v, f32, shaped as the parameter
};

struct StepReport {
  double grad_norm = 0.0;  // before clipping
  bool clipped = false;
};

// The scalars of one step that every element shares. AdamW and ShardedAdamW
// (ZeRO-1) both apply them through adamw_update, so a parameter's update is
// the same bits whichever of them holds its moments.
struct AdamWStepScalars {
  float clip = 1.0f;  // gradient scale from clipping
  float lr = 0.0f, b1 = 0.0f, b2 = 0.0f, eps = 0.0f, weight_decay = 0.0f;
  float step_size = 0.0f, correction2_sqrt = 0.0f;  // bias corrections
  bool clipped = false;
};
// For step number `step` (1 for the first) with the gradients' global norm.
AdamWStepScalars adamw_step_scalars(const AdamWSettings& settings, int64_t step, float lr, double grad_norm);
// Whether AdamW decays a parameter (the reference's first group: two or more dimensions).
bool adamw_decays(const Parameter& parameter);
// n elements of one parameter: g is clipped in place, w decayed (when
// `decay`), m and v updated, w stepped.
void adamw_update(float* w, float* g, float* m, float* v, int64_t n, bool decay, const AdamWStepScalars& s);

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
