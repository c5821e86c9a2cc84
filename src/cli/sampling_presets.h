// The release's recommended sampling settings (upstream README), shared by
// `generate` and `run`.
#pragma once

#include <cstdint>
#include <string>

namespace sv::cli {

struct SamplingPreset {
  const char* name;
  int64_t steps;
  float cfg_scale, time_shift;
};

// Throws a usage error listing the presets when `name` is unknown.
const SamplingPreset& find_sampling_preset(const std::string& name);

}  // namespace sv::cli
