// The DiT's training pass (DESIGN.md 6b): the forward of DitModel keeping
// what the backward needs, and the hand-written backward that adds every
// parameter's gradient into a Gradients. With activation checkpointing only
// each block's input is kept and the block's forward is recomputed in the
// backward; the recomputation repeats the same operations on the same
// values, so the gradients are identical, not merely close.
//
// Gradients are this rank's contribution. On one rank that is the gradient;
// the multi-rank trainer sums replicated parameters' contributions over the
// tp and sp groups (every backward here is linear in its upstream gradient, so
// summing at the end equals summing on the way).
//
// Under pipeline parallel a pass covers this rank's stage: forward_stage and
// backward_stage take and return the activations and their gradients at the
// stage boundaries, and the conditioning (which every stage computes, since
// every block uses it) gets the sum over the stages of its input gradients
// before backward_conditioning (train/pipeline_step.h runs the schedule).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "layers/gradients.h"
#include "models/dit/dit_model.h"

namespace sv {

struct DitTrainingOptions {
  bool activation_checkpointing = false;
  // Called in backward as soon as block `index` (transformer_blocks.<index>.*)
  // has added its last gradient: the data-parallel trainer starts reducing
  // those gradients while the blocks below still run.
  std::function<void(int64_t index)> block_gradients_done;
};

class DitTrainingPass {
 public:
  DitTrainingPass(const DitModel& model, DitTrainingOptions options);
  ~DitTrainingPass();
  DitTrainingPass(const DitTrainingPass&) = delete;
  DitTrainingPass& operator=(const DitTrainingPass&) = delete;

  // The prediction [B, F, out_channels, H, W], as DitModel::forward returns it.
  Tensor forward(const DitInputs& inputs);
  // dprediction: d loss / d prediction. Adds to grads; releases what forward kept.
  void backward(const Tensor& dprediction, Gradients& grads);

  // One pipeline stage. The first stage embeds inputs.hidden_states; the
  // others take x, the previous stage's output (this rank's tokens, [B, S_r, D]).
  // Returns the prediction on the last stage, else this stage's output.
  Tensor forward_stage(const DitInputs& inputs, const Tensor& x);
  // dy: d loss / d prediction on the last stage, else d loss / d output (from
  // the next stage). Adds the gradients of this stage's blocks and (first
  // stage) the patch embedding or (last) the output layer; returns d loss /
  // d input for the previous stage (undefined on the first).
  Tensor backward_stage(const Tensor& dy, Gradients& grads);
  // The conditioning's input gradients this stage's blocks (and output layer)
  // gave: t6, the text tokens, the embedded timestep. Summed over the stages
  // in place by the caller, then backward_conditioning takes them.
  std::vector<Tensor*> conditioning_input_gradients();
  // Adds the conditioning's gradients; releases what forward kept.
  void backward_conditioning(Gradients& grads);

  // What crosses a stage boundary for these inputs: this rank's tokens,
  // [B, S_r, D].
  static Shape stage_boundary_shape(const DitModel& model, const DitInputs& inputs);
  // The parameters every stage holds whose gradient only one stage computes:
  // the patch embedding (first stage) and the output layer (last stage).
  static std::vector<const Parameter*> stage_edge_parameters(const DitModel& model);

 private:
  struct State;
  void forward_conditioning(const DitInputs& in, int64_t batch);
  Tensor output_layer(const Tensor& x);
  Tensor output_layer_backward(const Tensor& dprediction, Tensor& d_embedded, Gradients& grads);
  void conditioning_backward(const Tensor& dt6, Tensor& d_embedded, const Tensor& dtext, Gradients& grads);

  const DitModel& model_;
  DitTrainingOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace sv
