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
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

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
