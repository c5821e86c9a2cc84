#include "models/scheduler/flow_match_scheduler.h"

#include "core/error.h"

namespace sv {

namespace {

// torch.linspace in f32: the first half counts up from start, the second half
// down from end, so both endpoints are exact.
std::vector<float> torch_linspace(float start, float end, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  if (n == 1) {
    v[0] = start;
    return v;
  }
  const float step = (end - start) / static_cast<float>(n - 1);
  const int64_t half = n / 2;
  for (int64_t i = 0; i < n; ++i) {
    v[static_cast<size_t>(i)] = i < half ? start + step * static_cast<float>(i)
                                         : end - step * static_cast<float>(n - 1 - i);
  }
  return v;
}

}  // namespace

FlowMatchSchedule flow_match_schedule(int64_t steps, float time_shift, bool reverse) {
  SV_CHECK_AS(ConfigError, steps >= 1, "number of denoising steps must be positive, got {}", steps);
  SV_CHECK_AS(ConfigError, time_shift > 0.0f, "time shift must be positive, got {}", time_shift);
  FlowMatchSchedule s;
  for (float u : torch_linspace(1.0f, 0.0f, steps + 1)) {
    const float shifted = (time_shift * u) / (1.0f + (time_shift - 1.0f) * u);
    s.sigmas.push_back(reverse ? shifted : 1.0f - shifted);
  }
  s.timesteps.assign(s.sigmas.begin(), s.sigmas.end() - 1);
  return s;
}

void euler_step_(Tensor& x, const Tensor& v, float sigma, float sigma_next) {
  SV_CHECK(x.dtype() == DType::F32 && v.dtype() == DType::F32 && x.shape() == v.shape() &&
               x.is_contiguous() && v.is_contiguous(),
           "euler_step: latents {} and velocity {} must be contiguous f32 of one shape",
           x.describe(), v.describe());
  const float dt = sigma_next - sigma;
  float* xp = x.data<float>();
  const float* vp = v.data<float>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) xp[i] = xp[i] + vp[i] * dt;
}

Tensor classifier_free_guidance(const Tensor& cond, const Tensor& uncond, float scale) {
  SV_CHECK(cond.dtype() == DType::F32 && uncond.dtype() == DType::F32 &&
               cond.shape() == uncond.shape(),
           "guidance: {} and {} must be f32 of one shape", cond.describe(), uncond.describe());
  const Tensor c = cond.contiguous(), u = uncond.contiguous();
  Tensor out = Tensor::empty(cond.shape(), DType::F32);
  const float* cp = c.data<float>();
  const float* up = u.data<float>();
  float* op = out.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) op[i] = up[i] + scale * (cp[i] - up[i]);
  return out;
}

}  // namespace sv
