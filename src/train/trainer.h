// The trainer of the DiT (`stepvideo train`; flow matching or Video-DPO): resumes from the
// newest complete checkpoint of its run directory, draws every batch, noise,
// t and text dropout from (seed, step, position in the global batch), takes
// AdamW steps, and writes checkpoints, metrics.jsonl, TensorBoard events and
// loss.svg. SIGTERM/SIGUSR1 on any rank end it at the next step boundary, on
// every rank, with a checkpoint (TrainOutcome::Preempted).
//
// Data parallel: each dp rank takes its slice of the global batch; sequence
// parallel: the sp ranks of a replica share each sample's video tokens (the
// Ulysses all-to-alls run transposed in the backward). Either way each rank
// holds a partial gradient, and they are summed over the dp x sp group in
// buckets while the backward runs (gradient_reduction.h); tensor parallel
// splits the layers, pipeline parallel the blocks (pipeline_step.h), ZeRO-1
// the optimizer state (sharded_adamw.h). The replicas stay identical, and
// world rank 0 alone writes the run directory. Pieces: run_state.h (what a
// run changes, resume, checkpoint contents), step_runner.h (one rank's share
// of a step), this file's loop (metrics, checkpoints, stops, samples).
#pragma once

#include <filesystem>
#include <functional>

#include "parallel/parallel_groups.h"
#include "train/train_config.h"

namespace sv::train {

enum class TrainOutcome {
  Finished,         // steps reached (or already reached: nothing changed)
  Preempted,        // a stop signal: checkpoint written, run again to continue
};

struct TrainerOptions {
  TrainConfig config;        // resolved: model and data absolute
  std::filesystem::path run_dir;
  bool steps_given = false;  // --steps came from the user (else a resume keeps the recorded one)
  ParallelGroups groups = ParallelGroups::single();  // dp, sp, tp, pp (cfg is refused)
  // Ends every rank of the job (the command aborts with its exit code): the
  // step watchdog's way out when a peer hangs. Unset: no watchdog.
  std::function<void()> abort_job;
};

// ConfigError unless the global batch splits evenly over `dp` ranks and each
// rank's share into --micro-batch-size samples.
void check_batch_splits(const TrainConfig& config, int dp);

TrainOutcome train(const TrainerOptions& options);

}  // namespace sv::train
