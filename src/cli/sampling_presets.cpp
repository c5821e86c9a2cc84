#include "cli/sampling_presets.h"

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

}  // namespace sv::cli
