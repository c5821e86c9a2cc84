// stepvideo init-model --preset tiny --out DIR [--seed N] [--force]: writes a
// model directory in the upstream release layout from a named preset (the
// bundled default the README's first commands run on).
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <string>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "core/elapsed.h"
#include "models/presets/model_presets.h"

namespace sv::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

struct DirSummary {
  int files = 0;
  uintmax_t bytes = 0;
};

DirSummary summarize(const fs::path& dir) {
  DirSummary s;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    ++s.files;
    s.bytes += e.file_size();
  }
  return s;
}

}  // namespace

int cmd_init_model(const Args& args, const Context&) {
  po::options_description visible(
      "usage: stepvideo init-model --preset tiny --out DIR [--seed N] [--force]\n\n"
      "Writes a complete model directory in the upstream release layout (transformer/,\n"
      "vae/, step_llm/, hunyuan_clip/) from a preset. Presets: " +
      presets::model_preset_names() +
      ".\ntiny (the default) has a DiT and Video-VAE trained on the shapes world: it draws\n"
      "prompts of that world's grammar (README, \"The bundled default model\"). tiny-random\n"
      "has the same architecture with untrained weights from --seed: the whole pipeline in\n"
      "seconds, no picture (tests). The same seed gives identical files.\n\n"
      "options");
  visible.add_options()("preset", po::value<std::string>()->default_value("tiny"),
                        "which model to write")(
      "out", po::value<std::string>(), "the directory to create")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the random weights")(
      "force", po::bool_switch(),
      "replace DIR if it is a model directory init-model wrote (it keeps stepvideo-init-model.json) and holds nothing else");
  const ParsedOptions parsed = parse_options(args, visible);
  if (parsed.help) return kExitOk;
  const po::variables_map& vm = parsed.vm;

  const std::string name = vm["preset"].as<std::string>();
  const presets::ModelPreset* preset = presets::find_model_preset(name);
  if (!preset) {
    throw po::error(
        fmt::format("unknown preset '{}' (presets: {})", name, presets::model_preset_names()));
  }
  if (!vm.count("out")) throw po::error("missing --out DIR");
  const int64_t seed = vm["seed"].as<int64_t>();
  if (seed < 0) throw po::error(fmt::format("--seed must not be negative, got {}", seed));

  const fs::path out = vm["out"].as<std::string>();
  const auto start = std::chrono::steady_clock::now();
  presets::init_model_directory(
      *preset, out,
      presets::InitModelOptions{.seed = static_cast<uint64_t>(seed), .force = vm["force"].as<bool>()});
  const double seconds = seconds_since(start);
  const DirSummary s = summarize(out);
  fmt::print("wrote {} (preset {}, seed {}): {} files, {:.1f} MB in {:.2f} s\n", out.string(),
             preset->name, seed, s.files, static_cast<double>(s.bytes) / 1e6, seconds);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace sv::cli
