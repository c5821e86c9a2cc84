#include "stages/denoise_stage.h"

#include <vector>

namespace sv {

namespace {

// Stacks [x | x] along the batch axis: the guidance batch sees the same latents twice.
Tensor repeat_batch(const Tensor& x) {
  std::vector<int64_t> dims = x.shape().dims();
  const int64_t b = dims[0];
  dims[0] = 2 * b;
  Tensor out = Tensor::empty(Shape(dims), DType::F32);
  out.slice(0, 0, b).copy_from(x);
  out.slice(0, b, 2 * b).copy_from(x);
  return out;
}

// Rows [first, first + n) of every conditioning tensor.
DitConditioning rows_of(const DitConditioning& t, int64_t first, int64_t n) {
  DitConditioning r;
  r.y = t.y.slice(0, first, first + n).contiguous();
  if (t.clip.defined()) r.clip = t.clip.slice(0, first, first + n).contiguous();
  r.mask = t.mask.slice(0, first, first + n).contiguous();
  return r;
}

}  // namespace

Tensor DenoiseStage::run(const Tensor& latents, const DitConditioning& text,
                         const DenoiseOptions& options, const StepCallback& on_step) const {
  SV_CHECK_AS(InputError, latents.rank() == 5, "latents are {}, expected [B, F, C, H, W]",
              latents.describe());
  const bool guided = options.cfg_scale > 1.0f;
  const int64_t batch = latents.dim(0);
  const int64_t rows = guided ? 2 * batch : batch;
  SV_CHECK_AS(InputError, text.y.defined() && text.y.dim(0) == rows && text.mask.dim(0) == rows,
              "text conditioning has {} rows, expected {} ({} prompts{})",
              text.y.defined() ? text.y.dim(0) : 0, rows, batch,
              guided ? " and as many negative prompts" : "");
  const FlowMatchSchedule schedule =
      flow_match_schedule(options.steps, options.time_shift, options.reverse_schedule);
  SV_CHECK_AS(InputError, options.first_step >= 0 && options.first_step <= schedule.steps(),
              "resume step {} outside [0, {}]", options.first_step, schedule.steps());

  // CFG parallel: the two halves of the guidance batch run on the two ranks of
  // the cfg group, which swap their velocity predictions once per step.
  const ParallelGroups& groups = dit_.groups();
  const bool split_cfg = guided && groups.cfg_size() == 2;
  const DitConditioning mine =
      split_cfg ? rows_of(text, groups.cfg_rank() * batch, batch) : text;

  Tensor x = latents.to(DType::F32).clone();
  DitInputs in;
  in.encoder_hidden_states = mine.y;
  in.encoder_hidden_states_2 = mine.clip;
  in.encoder_attention_mask = mine.mask;
  for (int64_t i = options.first_step; i < schedule.steps(); ++i) {
    const auto si = static_cast<size_t>(i);
    in.hidden_states = guided && !split_cfg ? repeat_batch(x) : x;
    in.timestep = Tensor::full(Shape{in.hidden_states.dim(0)}, schedule.timesteps[si]);
    Tensor out = dit_.forward(in);
    if (split_cfg) {
      std::vector<int64_t> dims = out.shape().dims();
      dims[0] = rows;
      Tensor both = Tensor::empty(Shape(dims), DType::F32);
      const std::vector<int64_t> counts{out.numel(), out.numel()};
      groups.cfg->all_gatherv(out.data<float>(), both.data<float>(), counts);
      out = both;
    }
    const Tensor v = guided ? classifier_free_guidance(out.slice(0, 0, batch),
                                                       out.slice(0, batch, rows), options.cfg_scale)
                            : out;
    euler_step_(x, v, schedule.sigmas[si], schedule.sigmas[si + 1]);
    if (on_step && !on_step(i, schedule.steps(), x)) break;
  }
  return x;
}

}  // namespace sv
