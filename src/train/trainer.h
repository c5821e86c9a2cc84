// The single-process flow-matching trainer of the DiT (`stepvideo train`):
// resumes from the newest complete checkpoint of its run directory, draws
// every batch, noise, t and text dropout from (seed, step, position), takes
// AdamW steps, and writes checkpoints, metrics.jsonl, TensorBoard events and
// loss.svg. SIGTERM/SIGUSR1 end it at the next step boundary with a
// checkpoint (TrainOutcome::Preempted).
#pragma once

#include <filesystem>

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
};

TrainOutcome train(const TrainerOptions& options);

}  // namespace sv::train
