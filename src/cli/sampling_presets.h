// The release's recommended sampling settings (upstream README), shared by
// `generate` and `run`, and how they combine with the command line and a
// model directory's own defaults (models/model_sampling.h).
#pragma once

#include <cstdint>
#include <string>

#include <boost/program_options/variables_map.hpp>

#include "models/model_sampling.h"
#include "stages/text_encode_stage.h"

namespace sv::cli {

struct SamplingPreset {
  const char* name;
  int64_t steps;
  float cfg_scale, time_shift;
};

// Throws a usage error listing the presets when `name` is unknown.
const SamplingPreset& find_sampling_preset(const std::string& name);

// What a video is made with unless its request says otherwise.
struct SamplingDefaults {
  int64_t steps = 0, frames = 0, height = 0, width = 0, fps = 0;
  float cfg_scale = 0, time_shift = 0;
  TextEncodeOptions text;
};

// Each value from the first that has it: the command line (options --steps,
// --cfg-scale, --time-shift, --frames, --height, --width, --fps and, where
// the command has them, --positive-suffix and --negative-prompt), the
// model's sampling.json, the preset (steps, guidance, shift; an explicitly
// given --preset comes before the model), the options' own defaults.
SamplingDefaults resolve_sampling_defaults(const boost::program_options::variables_map& vm,
                                           const ModelSampling& model);

}  // namespace sv::cli
