#include "models/model_sampling.h"

#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace sv {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path ModelSampling::path(const fs::path& model_dir) { return model_dir / "sampling.json"; }

ModelSampling ModelSampling::read(const fs::path& model_dir) {
  ModelSampling s;
  const fs::path file = path(model_dir);
  std::error_code ec;
  if (!fs::exists(file, ec)) return s;
  const json j = io::read_json_file(file);
  SV_CHECK_AS(ConfigError, j.is_object(), "{}: expected a JSON object of sampling defaults", file.string());
  static const std::set<std::string> kKnown{"steps", "frames", "height", "width", "fps", "cfg_scale", "time_shift",
                                            "positive_suffix", "negative_prompt"};
  for (const auto& [key, value] : j.items()) {
    SV_CHECK_AS(ConfigError, kKnown.count(key),
                "{}: unknown field '{}' (fields: steps, frames, height, width, fps, cfg_scale, time_shift, "
                "positive_suffix, negative_prompt)", file.string(), key);
  }
  auto integer = [&](const char* key, std::optional<int64_t>& out) {
    if (!j.contains(key)) return;
    SV_CHECK_AS(ConfigError, j[key].is_number_integer(), "{}: '{}' must be an integer", file.string(), key);
    out = j[key].get<int64_t>();
  };
  auto number = [&](const char* key, std::optional<double>& out) {
    if (!j.contains(key)) return;
    SV_CHECK_AS(ConfigError, j[key].is_number(), "{}: '{}' must be a number", file.string(), key);
    out = j[key].get<double>();
  };
  auto text = [&](const char* key, std::optional<std::string>& out) {
    if (!j.contains(key)) return;
    SV_CHECK_AS(ConfigError, j[key].is_string(), "{}: '{}' must be a string", file.string(), key);
    out = j[key].get<std::string>();
  };
  integer("steps", s.steps);
  integer("frames", s.frames);
  integer("height", s.height);
  integer("width", s.width);
  integer("fps", s.fps);
  number("cfg_scale", s.cfg_scale);
  number("time_shift", s.time_shift);
  text("positive_suffix", s.positive_suffix);
  text("negative_prompt", s.negative_prompt);
  auto in_range = [&](const char* key, const auto& v, double lo, double hi) {
    SV_CHECK_AS(ConfigError, !v || (static_cast<double>(*v) >= lo && static_cast<double>(*v) <= hi),
                "{}: '{}' must be in [{}, {}]", file.string(), key, lo, hi);
  };
  in_range("steps", s.steps, 1, 1000);
  in_range("frames", s.frames, 1, 4096);
  in_range("height", s.height, 16, 8192);
  in_range("width", s.width, 16, 8192);
  in_range("fps", s.fps, 1, 240);
  in_range("cfg_scale", s.cfg_scale, 0, 100);
  in_range("time_shift", s.time_shift, 1e-3, 1000);
  return s;
}

}  // namespace sv
