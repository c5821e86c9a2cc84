// Training checkpoints: RUN_DIR/checkpoints/step-N.h5, one HDF5 file holding
// every full tensor by checkpoint name (so it does not depend on the layout
// that wrote it, DESIGN.md 6b):
//   "weight.<name>"      f32 master weights
//   "exp_avg.<name>", "exp_avg_sq.<name>"   AdamW moments (parameters updated so far)
//   "ema.<name>"         EMA weights (when the run keeps them)
//   "reference.<name>"   Video-DPO's reference weights (when the run refreshes
//                        them from the policy)
//   "state"              JSON string: format, step, AdamW's steps taken, the
//                        loader position, the generator, skipped steps, the
//                        resolved config, the base model (absolute path)
// Written under a temporary name, fsync'd and renamed: a file under its final
// name is complete.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/parameter.h"
#include "train/adamw.h"
#include "train/train_config.h"

namespace sv::train {

inline constexpr const char* kCheckpointFormat = "stepvideo-train-checkpoint";

struct TrainProgress {
  int64_t step = 0;            // optimizer steps done (the next step's number)
  int64_t skipped_steps = 0;   // non-finite loss or gradients, in all
  int64_t bad_in_a_row = 0;    // at the end of `step`
  int64_t epoch = 0;           // of the next batch (informational: it follows from step)
};

struct CheckpointContents {
  TrainProgress progress;
  TrainConfig config;
  int64_t adamw_steps = 0;
  std::map<std::string, AdamWMoments, std::less<>> moments;
  std::map<std::string, Tensor> weights, ema, reference;
};

// `contents` holds full tensors (gathered from the ranks that split them).
void write_train_checkpoint(const std::filesystem::path& path, const CheckpointContents& contents);
// One rank's whole state (every parameter held whole here).
void write_train_checkpoint(const std::filesystem::path& path, const ParameterRegistry& registry, const AdamW& adamw,
                            const std::map<std::string, Tensor>& ema, const TrainProgress& progress,
                            const TrainConfig& config);
// Reads everything, or only the weights and EMA weights (and the state);
// InputError naming the file when it is truncated, corrupt or not a training
// checkpoint.
enum class CheckpointParts { All, Weights };
CheckpointContents read_train_checkpoint(const std::filesystem::path& path, CheckpointParts parts = CheckpointParts::All);

// The file layer every trainer's checkpoints share (the VAE's too,
// train/vae_trainer.h): the tensors above from `contents` and `state` as the
// state record; its reading (InputError unless the record is JSON of that
// format); the tensors into `contents`.
void write_checkpoint_file(const std::filesystem::path& path, const CheckpointContents& contents,
                           const nlohmann::json& state);
nlohmann::json read_checkpoint_state(const std::filesystem::path& path, std::string_view format);
void read_checkpoint_tensors(const std::filesystem::path& path, CheckpointParts parts, CheckpointContents& contents);

// Copies the checkpoint's weights into the registry's parameters, each rank
// its slice (Shard); CheckpointError naming `path` and the first tensor that
// is missing or mis-shaped (a checkpoint of another model), or when it holds
// others.
void load_checkpoint_weights(ParameterRegistry& registry, const CheckpointContents& contents,
                             const std::filesystem::path& path);
// This rank's slices of full per-parameter tensors (AdamW moments, EMA
// weights), by the registry's shard rules; other pipeline stages' are left out.
std::map<std::string, AdamWMoments, std::less<>> local_moments(
    const ParameterRegistry& registry, std::map<std::string, AdamWMoments, std::less<>> full);
std::map<std::string, Tensor> local_tensors(const ParameterRegistry& registry, std::map<std::string, Tensor> full);

// RUN_DIR/checkpoints/step-<N>.h5 and the complete ones there, newest first.
std::filesystem::path checkpoint_path(const std::filesystem::path& run_dir, int64_t step);
std::vector<std::pair<int64_t, std::filesystem::path>> list_checkpoints(const std::filesystem::path& run_dir);

}  // namespace sv::train
