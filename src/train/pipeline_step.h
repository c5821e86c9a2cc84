// Pipeline-parallel training (`train --layout pp=P`, DESIGN.md 6b): one
// step's micro-batches through this rank's stage in the 1F1B order
// (non-interleaved, as Megatron-LM runs it): stage s starts with
// min(P - s - 1, M) forwards, then alternates one forward and one backward,
// then finishes the backwards. At most P - s micro-batches' activations are
// alive on stage s, whatever M is.
//
// Activations go to the next stage and their gradients come back point to
// point in the pp group. Where a stage sends one way and receives the other
// at once (after a forward followed by a backward, and vice versa), the two
// travel in one send_recv, so neighbours never wait on each other's send:
// the plan below is checked for that by simulation (tests/unit).
//
// Every stage computes the conditioning (timestep and caption embeddings)
// that all blocks use; its input gradients are summed over the stages once
// the pipeline has drained, and so are the gradients of the patch embedding
// (first stage) and of the output layer (last stage), so every stage ends the
// step with the same gradients for the parameters every stage holds.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "layers/gradients.h"
#include "models/dit/dit_training.h"
#include "parallel/communicator.h"
#include "train/dit_step.h"

namespace sv::train {

// One step of a stage's plan. Compute steps name their micro-batch; a send
// or receive names the micro-batch whose activation (forward) or gradient
// (backward) travels; the combined steps send `micro_batch` and receive
// `received`.
struct PipeStep {
  enum class Kind {
    Forward,
    Backward,
    RecvForward,              // activation from the previous stage
    SendForward,              // activation to the next stage
    RecvBackward,             // gradient from the next stage
    SendBackward,             // gradient to the previous stage
    SendForwardRecvBackward,  // with the next stage
    SendBackwardRecvForward,  // with the previous stage
  };
  Kind kind;
  int64_t micro_batch;
  int64_t received = -1;
};

// Stage `stage` of `stages`, `micro_batches` micro-batches.
std::vector<PipeStep> one_f_one_b_plan(int stages, int stage, int64_t micro_batches);

// The last stage's loss of micro-batch j from its prediction: the loss (as
// it counts in the step) and its gradient with respect to the prediction.
using StageLoss = std::function<LossAndGradient(int64_t micro_batch, const Tensor& prediction)>;

// Runs the plan on this rank's stage of `model` for the micro-batches'
// inputs; gradients are added to grads. options.block_gradients_done is
// called during the last micro-batch's backward. Returns the sum of the
// losses on the last stage and 0 elsewhere.
double pipeline_step(const DitModel& model, std::span<const DitInputs> micro_batches, const StageLoss& loss,
                     const DitTrainingOptions& options, Gradients& grads, Communicator& pp);
// Flow matching: each micro-batch's mean squared error weighted by `weight`
// (its share of the global batch).
double pipeline_step(const DitModel& model, std::span<const DitBatch> micro_batches, double weight,
                     const DitTrainingOptions& options, Gradients& grads, Communicator& pp);

}  // namespace sv::train
