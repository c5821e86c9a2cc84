// Video-DPO (fixtures/TRAIN.md `dit_dpo_step`): Diffusion-DPO with
// flow-matching velocity targets. Pair i has a prompt, a preferred clip x0_w
// and a rejected clip x0_l that share one noise and one t;
//   mse_{model,ref}_{w,l}[i] = mean over the sample of (DiT(x_t, t_i) - (x0 - noise_i))^2
//   inside[i] = -beta/2 ((mse_model_w - mse_model_l) - (mse_ref_w - mse_ref_l))[i]
//   loss      = mean_i -log sigmoid(inside[i])
// The reference model is frozen: it only runs forward.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "layers/gradients.h"
#include "models/dit/dit_model.h"
#include "models/dit/dit_training.h"

namespace sv::train {

// b preference pairs (row i of every tensor is pair i).
struct DpoBatch {
  Tensor x0_w, x0_l, noise;  // f32 [b, F, C, H, W]
  Tensor t;                  // f32 [b], shared by both clips of a pair
  Tensor encoder_hidden_states, encoder_hidden_states_2, encoder_attention_mask;
};

struct DpoLoss {
  double loss = 0.0;
  std::vector<double> inside;  // the reward margin per pair
  double implicit_accuracy = 0.0;  // fraction of pairs with inside > 0
  // d loss / d mse_model_w[i] and d loss / d mse_model_l[i].
  std::vector<double> d_model_w, d_model_l;
};
// The loss from the four per-pair MSEs.
DpoLoss dpo_loss(std::span<const double> model_w, std::span<const double> model_l, std::span<const double> ref_w,
                 std::span<const double> ref_l, double beta);


struct DpoStepResult {
  DpoLoss dpo;
  std::vector<double> model_mse_w, model_mse_l, ref_mse_w, ref_mse_l;
};

// The DiT inputs of a batch of pairs: 2b rows, the winners then the losers,
// noise, t and text repeated; and the velocity targets.
struct DpoInputs {
  DitInputs inputs;
  Tensor target;
};
DpoInputs dpo_inputs(const DpoBatch& batch);
// Mean over each row of (prediction - target)^2.
std::vector<double> per_sample_mse(const Tensor& prediction, const Tensor& target);
// The step's figures from the policy's prediction of dpo_inputs' rows and the
// reference's per-row errors, and d (weight x loss) / d prediction.
DpoStepResult dpo_from_prediction(const Tensor& prediction, const Tensor& target, const std::vector<double>& ref_mse,
                                  double beta, double weight, Tensor& dprediction);

// The loss of a batch of pairs and (times `weight`, this batch's share of a
// larger one) its gradient for the policy, added to grads. Both clips of
// every pair go through the policy as one batch of 2b, and through the
// reference (forward only) likewise.
DpoStepResult dit_dpo_step(const DitModel& policy, const DitModel& reference, const DpoBatch& batch, double beta,
                           DitTrainingOptions options, Gradients& grads, double weight = 1.0);

}  // namespace sv::train
