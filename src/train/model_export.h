// Training checkpoints -> a release-layout model directory that generate and
// run load as is: transformer/ (config.json, sharded safetensors + index) from
// the checkpoint's weights (or its EMA weights), or the element-wise mean of
// several checkpoints' (`average-checkpoints`: the report found averaged SFT
// checkpoints better than EMA), every other component (VAE, text encoders,
// tokenizers) copied from the base model the checkpoints record.
#pragma once

#include <filesystem>
#include <vector>

#include "core/dtype.h"

namespace sv::train {

struct ExportOptions {
  std::vector<std::filesystem::path> checkpoints;  // one, or several to average (same base model)
  std::filesystem::path out;
  bool ema = false;
  DType dtype = DType::BF16;  // BF16 (as the release) or F32
  bool overwrite = false;
};

// The directory appears under `out` only when complete (built under a
// temporary name beside it, then renamed). InputError / CheckpointError name
// the file when the checkpoint does not fit its base model.
void export_model(const ExportOptions& options);

}  // namespace sv::train
