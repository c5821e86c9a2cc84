// A model directory in the upstream release layout (DESIGN.md section 2):
//   transformer/  config.json + diffusion_pytorch_model*.safetensors (+ index)
//   vae/          vae_v2.safetensors (+ config.json for non-release sizes)
//   step_llm/, hunyuan_clip/   text encoders (see TextEncodeStage::open)
#pragma once

#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "models/dit/dit_model.h"
#include "models/vae/vae_model.h"

namespace sv {

// InputError naming the path when the directory or one of its parts is missing.
void check_model_directory(const std::filesystem::path& model_dir);
// Reads the VAE's config and validates its weight file's header against the
// file (a truncated or malformed file fails here), without loading weights.
void check_vae_files(const std::filesystem::path& model_dir);

// low_memory keeps the DiT's bf16 linear weights mapped and widens them per
// layer as they are used (about half the resident weight memory).
std::unique_ptr<DitModel> load_dit(const std::filesystem::path& model_dir,
                                   const ParallelGroups& groups, bool low_memory = false);
std::unique_ptr<VaeModel> load_vae(const std::filesystem::path& model_dir, VaeParts parts);

// For sidecar files: every weight and tokenizer file (and sampling.json) under the directory with
// its size and the SHA-256 of its header (a safetensors file's JSON header,
// which lists every tensor and offset; the first MiB of any other file), so
// two runs can tell whether they used the same weights without hashing 60 GB.
nlohmann::ordered_json model_identity(const std::filesystem::path& model_dir);

}  // namespace sv
