// The trainer of the Video-VAE (`stepvideo train --component vae`): the
// encoder and decoder of a model directory's vae/ trained on the videos and
// images of a media manifest (the file encode-dataset takes), one whole VAE
// chunk per clip, with train/vae_step.h's loss (L1 + KL). One process; the
// batch's clips run one after another and their gradients are averaged.
//
// The run directory is a training run's (DESIGN.md 6b): checkpoints/step-N.h5
// (weights and AdamW moments by checkpoint name, a state record of its own
// format), metrics.jsonl (loss, l1, kl, psnr, grad_norm, lr, timing),
// TensorBoard events, loss.svg, config.json and a lock. Running the same
// command again resumes from the newest complete checkpoint; SIGTERM/SIGUSR1
// stop at the next step boundary with a checkpoint. `stepvideo export` turns
// a checkpoint into a model directory with the trained VAE.
#pragma once

#include <filesystem>

#include "train/vae_train_config.h"

namespace sv::train {

inline constexpr const char* kVaeCheckpointFormat = "stepvideo-vae-train-checkpoint";

enum class VaeTrainOutcome { Finished, Preempted };

struct VaeTrainerOptions {
  VaeTrainConfig config;  // model and data absolute
  std::filesystem::path run_dir;
  bool steps_given = false;  // --steps came from the user (else a resume keeps the recorded one)
};

VaeTrainOutcome train_vae(const VaeTrainerOptions& options);

// A VAE checkpoint's weights (by checkpoint name) and the config of its run;
// InputError naming the file when it is not one.
struct VaeCheckpoint {
  std::map<std::string, Tensor> weights;
  VaeTrainConfig config;
  int64_t step = 0;
};
bool is_vae_checkpoint(const std::filesystem::path& path);
VaeCheckpoint read_vae_checkpoint_weights(const std::filesystem::path& path);

}  // namespace sv::train
