// DenoiseStage: initial latents -> denoised latents, the flow-matching Euler
// loop over the DiT with classifier-free guidance (upstream
// StepVideoPipeline.__call__, steps 4-6).
#pragma once

#include <cstdint>
#include <functional>

#include "models/dit/dit_model.h"
#include "models/scheduler/flow_match_scheduler.h"

namespace sv {

// Text conditioning for a batch of B prompts. With guidance the rows are
// [B prompts | B negative prompts] (the order upstream concatenates them);
// without guidance only the B prompt rows.
struct DitConditioning {
  Tensor y;     // [rows, L, caption_channels] Step-LLM embeddings
  Tensor clip;  // [rows, Lc, clip_channels] HunyuanCLIP embeddings (may be undefined)
  Tensor mask;  // [rows, Lc + L] over [clip | llm]
};

struct DenoiseOptions {
  int64_t steps = 50;
  float time_shift = 13.0f;
  float cfg_scale = 9.0f;  // guidance is off when <= 1, as upstream
  bool reverse_schedule = false;
  // Resume a saved trajectory: start at this step with latents already advanced.
  int64_t first_step = 0;
};

// Called after every step with the step index (0-based), the step count and
// the latents after the step. Returning false stops the loop there (a
// preempted job saves the latents and continues later with first_step).
using StepCallback = std::function<bool(int64_t step, int64_t steps, const Tensor& latents)>;

class DenoiseStage {
 public:
  explicit DenoiseStage(const DitModel& dit) : dit_(dit) {}
  // latents: f32 [B, F, C, H, W] initial noise; returns the denoised latents
  // (or, when the callback stopped the loop, the latents after that step).
  Tensor run(const Tensor& latents, const DitConditioning& text, const DenoiseOptions& options,
             const StepCallback& on_step = {}) const;

 private:
  const DitModel& dit_;
};

}  // namespace sv
