// diffusers' sharded weight layout, as the release's transformer/ uses it:
// STEM-0000k-of-0000n.safetensors cut into parts of about equal bytes, plus
// STEM.safetensors.index.json mapping every tensor to its file.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace sv::io {

// Each file is written atomically (safetensors.h); the index last, so an index
// under its final name means every shard it names is complete.
void write_sharded_safetensors(const std::filesystem::path& dir, const std::string& stem,
                               const std::vector<std::pair<std::string, Tensor>>& tensors, int shards);

}  // namespace sv::io
