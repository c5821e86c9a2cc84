// The samples of one rank and what it computes of each optimizer step
// (DESIGN.md 6b): its dp slice of every global batch (loaded ahead on a
// thread), in micro-batches, through the whole model or its pipeline stage,
// with the flow-matching or the Video-DPO loss; the gradients summed over
// dp x sp in buckets while the backward runs. Every random draw is keyed by
// (seed, step, position in the global batch), so any layout draws the same.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "layers/gradients.h"
#include "parallel/parallel_groups.h"
#include "train/batch_plan.h"
#include "train/dataset.h"
#include "train/dit_step.h"
#include "train/dpo.h"
#include "train/gradient_reduction.h"
#include "train/run_state.h"

namespace sv::train {

// Samples split into training and held-out ones: the held-out ones are the
// first `count` by SHA-256 of their id (independent of the seed, so a run's
// split never moves).
struct Split {
  std::vector<int64_t> train, validation;
};
Split split_samples(const Dataset& data, int64_t count);

// One global batch's share of this rank, loaded (on the prefetch thread)
// ahead of its step.
struct LoadedBatch {
  int64_t global_size = 0;  // samples of the step's global batch (this rank holds its dp share)
  std::vector<TrainingSample> samples;
  double load_s = 0.0;
};

// Video-DPO's per-step figures: means over the global batch's pairs.
struct DpoMetrics {
  double implicit_accuracy = 0, inside = 0, model_mse_w = 0, model_mse_l = 0, ref_mse_w = 0, ref_mse_l = 0;
};

class StepRunner {
 public:
  StepRunner(RunState& state, const Dataset& data, const Split& split, const ParallelGroups& groups);

  // Samples per forward/backward on each rank: --micro-batch-size, or the
  // rank's whole share of the global batch (one sample at a time under pp,
  // so the pipeline has micro-batches to overlap).
  static int64_t local_micro_batch(const TrainConfig& c, int64_t local_batch, int pp);
  // The plan over the training split; InputError when no batch can ever
  // form, ConfigError when --micro-batch-size does not divide some bucket's
  // share of a batch.
  static BatchPlan make_plan(const Dataset& data, const Split& split, const TrainConfig& c, int dp);

  std::future<LoadedBatch> prefetch(int64_t step);
  int64_t epoch_of(int64_t step) { return plan_.epoch_of(step); }
  const SampleInfo& first_sample_of_step(int64_t step);

  // Forward, loss and backward over this rank's micro-batches of one step;
  // leaves the global batch's gradients in grads (summed over the dp group),
  // or under ZeRO-1 this rank's chunks of them in own_chunks(), and returns
  // the global batch's loss.
  double accumulate(int64_t step, const LoadedBatch& batch, Gradients& grads);
  std::vector<std::vector<float>>& own_chunks() { return reduction_->own_chunks(); }
  const DpoMetrics& dpo_metrics() const { return dpo_; }

  // The loss at fixed draws (forward only): kValidationDraws (noise, t) per
  // sample of the held-out split, or, without one, of the first training
  // samples (then it measures how well the training data is fitted). The dp
  // ranks share the samples (j on rank j mod dp).
  double validation_loss();

 private:
  double one_stage(int64_t step, const LoadedBatch& batch, Gradients& grads, double share);
  double pipelined(int64_t step, const LoadedBatch& batch, Gradients& grads, double share);
  double preference_pairs(int64_t step, const LoadedBatch& batch, Gradients& grads, double share);
  double pipelined_pairs(int64_t step, const LoadedBatch& batch, Gradients& grads, double share,
                         std::vector<DpoStepResult>& results);
  // The backward options of a micro-batch; the one that completes each
  // block's gradients hands them to the reduction at once.
  DitTrainingOptions training_options(bool completes_blocks, Gradients& grads);
  // Rows [first, first + count) of a step's batch, with their draws keyed by
  // (seed, step, position in the global batch).
  DitBatch assemble(int64_t step, const LoadedBatch& batch, int64_t first, int64_t count, int64_t position_offset,
                    bool dropout = true) const;
  DpoBatch assemble_pairs(int64_t step, const LoadedBatch& batch, int64_t first, int64_t count) const;
  int64_t first_position() const { return static_cast<int64_t>(groups_.coords.dp) * local_batch_; }

  RunState& s_;
  const Dataset& data_;
  const Split& split_;
  const ParallelGroups& groups_;
  BatchPlan plan_;
  int64_t local_batch_, micro_;
  int64_t global_batch_ = 0;  // of the step being taken
  std::unique_ptr<DitGradientReduction> reduction_;  // with dp x sp > 1
  bool reported_buckets_ = false;
  DpoMetrics dpo_;
};

}  // namespace sv::train
