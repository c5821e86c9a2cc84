#include "train/dit_step.h"

#include <cmath>

namespace sv::train {

DitStepResult dit_flow_matching_step(const DitModel& model, const DitBatch& batch, DitTrainingOptions options,
                                     Gradients& grads, double weight) {
  DitStepResult result;
  result.inputs = flow_matching_inputs(batch.x0, batch.noise, batch.t);
  DitInputs in;
  in.hidden_states = result.inputs.x_t;
  in.timestep = batch.t;
  in.encoder_hidden_states = batch.encoder_hidden_states;
  in.encoder_hidden_states_2 = batch.encoder_hidden_states_2;
  in.encoder_attention_mask = batch.encoder_attention_mask;
  DitTrainingPass pass(model, options);
  result.prediction = pass.forward(in);
  LossAndGradient loss = mse_loss(result.prediction, result.inputs.target);
  result.loss = loss.loss;
  if (weight != 1.0) {
    float* g = loss.gradient.data<float>();
    const int64_t n = loss.gradient.numel();
    for (int64_t i = 0; i < n; ++i) g[i] = static_cast<float>(g[i] * weight);
  }
  pass.backward(loss.gradient, grads);
  return result;
}

std::vector<ParameterGradient> parameter_gradients(const ParameterRegistry& registry, Gradients& grads) {
  std::vector<ParameterGradient> list;
  for (const auto& p : registry.parameters()) {
    if (!p->local) continue;
    if (const Tensor* g = grads.find(*p)) list.push_back(ParameterGradient{p.get(), *g});
  }
  return list;
}

void GradSquares::add(const Parameter& p, double sum_sq) {
  const bool split = !p.shard.is_replicated();
  if (p.one_stage) {
    (split ? split_one_stage : replicated_one_stage) += sum_sq;
  } else {
    (split ? split_every_stage : replicated_every_stage) += sum_sq;
  }
}

void GradSquares::sum_across(Communicator& group) {
  double all[4] = {split_one_stage, replicated_one_stage, split_every_stage, replicated_every_stage};
  sv::sum_across(group, all);
  split_one_stage = all[0];
  replicated_one_stage = all[1];
  split_every_stage = all[2];
  replicated_every_stage = all[3];
}

double global_grad_norm(const GradSquares& s, Communicator& tp, Communicator& pp) {
  // Each sum is taken in rank order, so every rank gets the same bits.
  double split[2] = {s.split_one_stage, s.split_every_stage};
  sum_across(tp, split);
  const double stage = sum_across(pp, split[0] + s.replicated_one_stage);
  return std::sqrt(stage + split[1] + s.replicated_every_stage);
}

double global_grad_norm(std::span<const ParameterGradient> list, Communicator& tp, Communicator& pp) {
  GradSquares squares;
  for (const ParameterGradient& pg : list) {
    double sum_sq = 0.0;
    const float* g = pg.gradient.data<float>();
    const int64_t n = pg.gradient.numel();
    for (int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(g[i]) * g[i];
    squares.add(*pg.parameter, sum_sq);
  }
  return global_grad_norm(squares, tp, pp);
}

}  // namespace sv::train
