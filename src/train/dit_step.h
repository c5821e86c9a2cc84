// One flow-matching forward + loss + backward of the DiT on a batch: the
// piece the verify runners, the trainer and `bench train` share.
#pragma once

#include <span>
#include <vector>

#include "layers/gradients.h"
#include "models/dit/dit_training.h"
#include "parallel/communicator.h"
#include "train/adamw.h"
#include "train/flow_matching.h"

namespace sv::train {

struct DitBatch {
  Tensor x0, noise;  // f32 [B, F, C, H, W]
  Tensor t;          // f32 [B]
  Tensor encoder_hidden_states, encoder_hidden_states_2, encoder_attention_mask;
};

struct DitStepResult {
  double loss = 0.0;  // mean over the batch's elements
  FlowMatchingInputs inputs;
  Tensor prediction;
};

// Adds weight * d loss / d parameter to grads (weight: this batch's share of
// a larger batch whose loss is the mean over all its elements, 1 for a whole
// batch).
DitStepResult dit_flow_matching_step(const DitModel& model, const DitBatch& batch, DitTrainingOptions options,
                                     Gradients& grads, double weight = 1.0);

// The parameters that received a gradient, in declaration order, for AdamW.
// Parameters no backward reached are left out, as torch leaves out those
// whose .grad is None (no update, no weight decay).
std::vector<ParameterGradient> parameter_gradients(const ParameterRegistry& registry, Gradients& grads);

// The norm of the whole gradient under tensor and pipeline parallel: the
// squares of tp-split parameters' slices are summed over tp, those of one
// stage's parameters over pp; a parameter every rank of a group holds is
// counted once. The same bits on every rank.
double global_grad_norm(std::span<const ParameterGradient> list, Communicator& tp, Communicator& pp);

// The same from squares already summed by kind.
struct GradSquares {
  double split_one_stage = 0, replicated_one_stage = 0, split_every_stage = 0, replicated_every_stage = 0;
  void add(const Parameter& p, double sum_sq);
  // Each kind summed over `group` (ranks holding different elements).
  void sum_across(Communicator& group);
};
double global_grad_norm(const GradSquares& squares, Communicator& tp, Communicator& pp);

}  // namespace sv::train
