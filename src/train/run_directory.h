// What every trainer (the DiT's, the VAE's) does with its run directory
// besides writing into it.
#pragma once

#include <cstdint>
#include <filesystem>

namespace sv::train {

// Half-written files of a killed run (checkpoints, metrics, loss.svg): only
// ever our own temporaries, recognised by their prefix.
void remove_temporaries(const std::filesystem::path& run_dir);

// Keeps the newest `keep` complete checkpoints (never fewer than one).
void prune_checkpoints(const std::filesystem::path& run_dir, int64_t keep);

}  // namespace sv::train
