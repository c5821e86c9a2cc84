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
    for (int64_t i = 0; i < loss.gradient.numel(); ++i) g[i] = static_cast<float>(g[i] * weight);
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

double global_grad_norm(std::span<const ParameterGradient> list, Communicator& tp) {
  double split = 0.0, replicated = 0.0;
  for (const ParameterGradient& pg : list) {
    double sum_sq = 0.0;
    const float* g = pg.gradient.data<float>();
    for (int64_t i = 0; i < pg.gradient.numel(); ++i) sum_sq += static_cast<double>(g[i]) * g[i];
    (pg.parameter->shard.is_replicated() ? replicated : split) += sum_sq;
  }
  return std::sqrt(sum_across(tp, split) + replicated);
}

}  // namespace sv::train
