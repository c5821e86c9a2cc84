// A training checkpoint -> a release-layout model directory that generate and
// run load as is: transformer/ (config.json, sharded safetensors + index) from
// the checkpoint's weights (or its EMA weights), every other component (VAE,
// text encoders, tokenizers) copied from the base model the checkpoint records.
#pragma once

#include <filesystem>

#include "core/dtype.h"

namespace sv::train {

struct ExportOptions {
  std::filesystem::path checkpoint, out;
  bool ema = false;
  DType dtype = DType::BF16;  // BF16 (as the release) or F32
  bool overwrite = false;
};

// The directory appears under `out` only when complete (built under a
// temporary name beside it, then renamed). InputError / CheckpointError name
// the file when the checkpoint does not fit its base model.
void export_model(const ExportOptions& options);

}  // namespace sv::train
