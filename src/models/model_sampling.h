// A model directory's own sampling defaults: sampling.json beside the
// components, e.g. {"steps": 30, "cfg_scale": 5, "time_shift": 3, "frames":
// 17, "height": 64, "width": 64, "fps": 8, "positive_suffix": "",
// "negative_prompt": ""}; every field optional. A model trained for one
// setting (the bundled default, a distilled one) says how it is meant to be
// sampled; `generate` and `run` apply these unless the command line (or a
// manifest line) says otherwise, and an explicit --preset wins over them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace sv {

struct ModelSampling {
  std::optional<int64_t> steps, frames, height, width, fps;
  std::optional<double> cfg_scale, time_shift;
  std::optional<std::string> positive_suffix, negative_prompt;

  // Nothing when the file (or the directory) does not exist; ConfigError
  // naming the file and field for an unknown field or a value of the wrong type.
  static ModelSampling read(const std::filesystem::path& model_dir);
  static std::filesystem::path path(const std::filesystem::path& model_dir);
};

}  // namespace sv
