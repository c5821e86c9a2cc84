#include "train/dit_step.h"

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

}  // namespace sv::train
