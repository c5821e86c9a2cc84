#include "train/adamw.h"

#include <cmath>

#include "core/error.h"

namespace sv::train {

namespace {

void check_gradient(const ParameterGradient& pg) {
  const Parameter& p = *pg.parameter;
  SV_CHECK(p.value.defined() && p.value.dtype() == DType::F32 && p.value.is_contiguous(),
           "AdamW: parameter {} is not a loaded contiguous f32 tensor", p.name);
  SV_CHECK(pg.gradient.defined() && pg.gradient.dtype() == DType::F32 && pg.gradient.is_contiguous() &&
               pg.gradient.shape() == p.value.shape(),
           "AdamW: gradient {} for parameter {} {}", pg.gradient.defined() ? pg.gradient.describe() : "undefined",
           p.name, p.value.describe());
}

}  // namespace

AdamW::AdamW(AdamWSettings settings) : settings_(settings) {
  const AdamWSettings& s = settings_;
  SV_CHECK_AS(InputError, s.beta1 >= 0 && s.beta1 < 1 && s.beta2 >= 0 && s.beta2 < 1,
              "AdamW: betas must be in [0, 1), got ({}, {})", s.beta1, s.beta2);
  SV_CHECK_AS(InputError, s.eps > 0 && std::isfinite(s.eps), "AdamW: eps must be a positive number, got {}", s.eps);
  SV_CHECK_AS(InputError, s.weight_decay >= 0 && std::isfinite(s.weight_decay),
              "AdamW: weight decay must be finite and not negative, got {}", s.weight_decay);
  SV_CHECK_AS(InputError, s.max_grad_norm >= 0 && std::isfinite(s.max_grad_norm),
              "AdamW: max_grad_norm must be finite and not negative (0: off), got {}", s.max_grad_norm);
}

const AdamWMoments* AdamW::moments(std::string_view name) const {
  const auto it = moments_.find(name);
  return it == moments_.end() ? nullptr : &it->second;
}

double AdamW::global_norm(std::span<const ParameterGradient> params) {
  double sum_sq = 0.0;
  for (const ParameterGradient& pg : params) {
    check_gradient(pg);
    const float* g = pg.gradient.data<float>();
    const int64_t n = pg.gradient.numel();
    for (int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(g[i]) * g[i];
  }
  return std::sqrt(sum_sq);
}

void AdamW::restore(int64_t steps_taken, std::map<std::string, AdamWMoments, std::less<>> moments) {
  SV_CHECK(steps_taken >= 0, "AdamW: {} steps taken", steps_taken);
  steps_ = steps_taken;
  moments_ = std::move(moments);
}

StepReport AdamW::step(std::span<const ParameterGradient> params, float lr) {
  return step(params, lr, global_norm(params));
}

AdamWStepScalars adamw_step_scalars(const AdamWSettings& settings, int64_t step, float lr, double grad_norm) {
  SV_CHECK(std::isfinite(lr) && lr >= 0, "AdamW: learning rate {} is not a finite number >= 0", lr);
  SV_CHECK(std::isfinite(grad_norm), "AdamW: the gradients hold NaN or infinity; nothing was updated");
  SV_CHECK(step >= 1, "AdamW: step number {}", step);
  AdamWStepScalars s;
  if (settings.max_grad_norm > 0) {
    const double c = settings.max_grad_norm / (grad_norm + 1e-6);
    if (c < 1.0) {
      s.clip = static_cast<float>(c);
      s.clipped = true;
    }
  }
  s.lr = lr;
  s.b1 = settings.beta1;
  s.b2 = settings.beta2;
  s.eps = settings.eps;
  s.weight_decay = settings.weight_decay;
  const double correction1 = 1.0 - std::pow(static_cast<double>(s.b1), static_cast<double>(step));
  const double correction2 = 1.0 - std::pow(static_cast<double>(s.b2), static_cast<double>(step));
  s.step_size = static_cast<float>(lr / correction1);
  s.correction2_sqrt = static_cast<float>(std::sqrt(correction2));
  return s;
}

bool adamw_decays(const Parameter& parameter) { return parameter.full_shape.rank() >= 2; }

void adamw_update(float* w, float* g, float* m, float* v, int64_t n, bool decay, const AdamWStepScalars& s) {
  // Biases and norm weights are not decayed (the reference's second group).
  const float decay_factor = decay ? 1.0f - s.lr * s.weight_decay : 1.0f;
  const float clip = s.clip, b1 = s.b1, b2 = s.b2, step_size = s.step_size, c2 = s.correction2_sqrt, eps = s.eps;
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    g[i] *= clip;
    w[i] *= decay_factor;
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    w[i] -= step_size * m[i] / (std::sqrt(v[i]) / c2 + eps);
  }
}

StepReport AdamW::step(std::span<const ParameterGradient> params, float lr, double grad_norm) {
  for (const ParameterGradient& pg : params) check_gradient(pg);
  const AdamWStepScalars scalars = adamw_step_scalars(settings_, steps_ + 1, lr, grad_norm);
  ++steps_;
  for (const ParameterGradient& pg : params) {
    Parameter& p = *pg.parameter;
    auto [it, fresh] = moments_.try_emplace(p.name);
    if (fresh) {
      it->second.exp_avg = Tensor::zeros(p.value.shape(), DType::F32);
      it->second.exp_avg_sq = Tensor::zeros(p.value.shape(), DType::F32);
    }
    AdamWStepScalars own = scalars;
    own.lr *= pg.lr_scale;
    own.step_size *= pg.lr_scale;
    adamw_update(p.value.data<float>(), pg.gradient.data<float>(), it->second.exp_avg.data<float>(),
                 it->second.exp_avg_sq.data<float>(), p.value.numel(), adamw_decays(p), own);
  }
  return StepReport{grad_norm, scalars.clipped};
}

}  // namespace sv::train
