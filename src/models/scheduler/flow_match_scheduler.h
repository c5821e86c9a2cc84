// Flow-matching Euler scheduler (upstream FlowMatchDiscreteScheduler) with
// the time shift of SD3: the sigma schedule and the update step, in f32.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace sv {

struct FlowMatchSchedule {
  std::vector<float> sigmas;     // n + 1 values; reverse=false: rising 0 (noise) -> 1 (clean)
  std::vector<float> timesteps;  // sigmas[:-1]: the t the DiT is called with
  int64_t steps() const { return static_cast<int64_t>(timesteps.size()); }
};

// u = linspace(1, 0, n + 1) (torch's f32 linspace), s = shift u / (1 + (shift - 1) u),
// sigmas = 1 - s unless reverse.
FlowMatchSchedule flow_match_schedule(int64_t steps, float time_shift, bool reverse = false);

// x <- x + v (sigma_next - sigma), in f32 as upstream.
void euler_step_(Tensor& x, const Tensor& v, float sigma, float sigma_next);

// Classifier-free guidance: uncond + scale (cond - uncond), in f32.
Tensor classifier_free_guidance(const Tensor& cond, const Tensor& uncond, float scale);

}  // namespace sv
