// `stepvideo init-model`: named model presets and writing one to a directory
// so that a partial directory never appears under the requested name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sv::presets {

struct ModelPreset {
  std::string_view name;
  std::string_view summary;
  void (*write)(const std::filesystem::path& dir, uint64_t seed);
};

const std::vector<ModelPreset>& model_presets();
const ModelPreset* find_model_preset(std::string_view name);  // nullptr if unknown
std::string model_preset_names();                              // "tiny" / "a, b"

struct InitModelOptions {
  uint64_t seed = 0;
  bool force = false;  // replace a model directory init-model wrote earlier
};

// The file init-model leaves at the top of every model directory it writes:
// the preset, the seed and every entry it wrote.
inline constexpr const char* kInitModelMarker = "stepvideo-init-model.json";

// Writes the preset into a temporary directory beside `out` and renames it to
// `out` when complete; the temporary directory is removed on failure. An
// existing empty `out` is replaced; a non-empty one only with force, and only
// when its marker says init-model wrote it and it holds nothing else (the old
// one is removed after the new one is in place). InputError naming the path
// when `out` is a file, holds anything else, or cannot be written.
void init_model_directory(const ModelPreset& preset, const std::filesystem::path& out,
                          const InitModelOptions& options);

}  // namespace sv::presets
