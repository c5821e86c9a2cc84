// What a generation needs in memory, estimated before any model loads, so a
// request that cannot fit is refused with numbers instead of growing until
// the kernel kills it (README "Memory"). Estimates, not bounds: weights from
// the files' sizes (widened to f32 unless offloaded), the DiT's activations
// from its token count (about eight hidden-size and two MLP-size buffers per
// token and row, as its blocks hold them), the VAE decoder's from its widest
// full-resolution level (calibrated on the 544x992 measurement in
// bench/README.md: 13.6 GiB).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "stages/generation_request.h"

namespace sv {

struct MemoryEstimate {
  uint64_t weights = 0, latents = 0, dit_activations = 0, vae_activations = 0;
  uint64_t total() const;
  std::string describe() const;  // "37.2 GiB (weights 12.0, latents 0.1, DiT 20.1, VAE 5.0)"
};

struct MemoryRequest {
  VideoSize size;
  int64_t batch = 1;           // videos denoised together
  bool guided = true;          // classifier-free guidance doubles the DiT's rows
  bool all_models_loaded = true;  // run keeps every model; generate releases the text encoders first
  bool offload = false;        // --offload: bf16 DiT weights stay bf16
  int model_shards = 1;        // tp x pp: each rank holds this share of the DiT
  int sequence_shards = 1;     // sp: each rank holds this share of the tokens
  int64_t vae_tile = 0;        // latent positions per tile side (0: whole frames)
};

MemoryEstimate estimate_memory(const std::filesystem::path& model_dir, const MemoryRequest& request);

// Bytes this process may still use: MemAvailable, lowered by a cgroup limit,
// shared among the ranks of this node (by the launcher's local size).
uint64_t available_memory();

// InputError with the estimate and the available memory when it cannot fit.
void check_memory(const MemoryEstimate& estimate, uint64_t available, const std::string& what);

}  // namespace sv
