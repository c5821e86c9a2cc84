#include "cli/sampling_presets.h"

#include <optional>

#include <boost/program_options/errors.hpp>

namespace sv::cli {

namespace {
constexpr SamplingPreset kPresets[] = {{"stepvideo-t2v", 50, 9.0f, 13.0f}, {"turbo", 15, 5.0f, 17.0f}};
}

const SamplingPreset& find_sampling_preset(const std::string& name) {
  std::string names;
  for (const SamplingPreset& p : kPresets) {
    if (name == p.name) return p;
    names += names.empty() ? p.name : std::string(", ") + p.name;
  }
  throw boost::program_options::error("unknown preset '" + name + "' (presets: " + names + ")");
}

namespace {

template <typename T>
bool given(const boost::program_options::variables_map& vm, const char* name) {
  return vm.count(name) && !vm[name].defaulted();
}

template <typename T>
T option_or(const boost::program_options::variables_map& vm, const char* name, const std::optional<T>& model,
            T fallback) {
  if (given<T>(vm, name)) return vm[name].as<T>();
  if (model) return *model;
  return vm.count(name) ? vm[name].as<T>() : fallback;
}

}  // namespace

SamplingDefaults resolve_sampling_defaults(const boost::program_options::variables_map& vm,
                                           const ModelSampling& model) {
  const SamplingPreset& preset = find_sampling_preset(vm["preset"].as<std::string>());
  // An explicit --preset is a request about sampling: it beats the model's defaults.
  const bool preset_given = given<std::string>(vm, "preset");
  const auto from_model = [&](const std::optional<double>& v) {
    return preset_given || !v ? std::optional<float>() : std::optional<float>(static_cast<float>(*v));
  };
  SamplingDefaults d;
  d.steps = option_or<int64_t>(vm, "steps", preset_given ? std::nullopt : model.steps, preset.steps);
  d.cfg_scale = option_or<float>(vm, "cfg-scale", from_model(model.cfg_scale), preset.cfg_scale);
  d.time_shift = option_or<float>(vm, "time-shift", from_model(model.time_shift), preset.time_shift);
  d.frames = option_or<int64_t>(vm, "frames", model.frames, 0);
  d.height = option_or<int64_t>(vm, "height", model.height, 0);
  d.width = option_or<int64_t>(vm, "width", model.width, 0);
  d.fps = option_or<int64_t>(vm, "fps", model.fps, 25);
  d.text.positive_suffix = option_or<std::string>(vm, "positive-suffix", model.positive_suffix,
                                                  kDefaultPositiveSuffix);
  d.text.negative_prompt = option_or<std::string>(vm, "negative-prompt", model.negative_prompt,
                                                  kDefaultNegativePrompt);
  return d;
}

}  // namespace sv::cli
