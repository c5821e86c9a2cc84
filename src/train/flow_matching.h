// The flow-matching objective the DiT is trained with (fixtures/TRAIN.md),
// in the sampler's convention where t = 1 is the clean video:
//   x_t = t x0 + (1 - t) noise,  target v = x0 - noise,
//   loss = mean over every element of the batch of (DiT(x_t, t) - v)^2,
// and the draw of t: a noise level u in (0, 1), uniform or logit-normal, then
// t = 1 - shift u / (1 + (shift - 1) u) (the sampler's own time shift, so a
// shift above 1 trains more near noise).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace sv::train {

struct FlowMatchingInputs {
  Tensor x_t, target;  // shaped as x0
};
// x0, noise: f32 [B, ...] of one shape; t: f32 [B], one time per sample.
FlowMatchingInputs flow_matching_inputs(const Tensor& x0, const Tensor& noise, const Tensor& t);

struct LossAndGradient {
  double loss = 0.0;
  Tensor gradient;  // d loss / d prediction
};
// Mean squared error over every element, and its gradient 2 (p - v) / N.
LossAndGradient mse_loss(const Tensor& prediction, const Tensor& target);

enum class TimeSampling { Uniform, LogitNormal };

struct TimeSampler {
  TimeSampling kind = TimeSampling::Uniform;
  double logit_mean = 0.0, logit_std = 1.0;  // of logit(u), for LogitNormal
  double shift = 1.0;                        // > 0; 1 leaves u as 1 - t

  // The flow time of global sample `index` at optimizer step `step`: a pure
  // function of (seed, step, index), drawn from the counter-based generator,
  // so a resumed or re-laid-out run draws the same times.
  float sample(uint64_t seed, int64_t step, int64_t index) const;
  // Checks the settings (InputError naming the bad one).
  void validate() const;
};

}  // namespace sv::train
