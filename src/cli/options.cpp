#include "cli/options.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/error.h"
#include "core/log.h"

namespace sv::cli {

namespace po = boost::program_options;

namespace {

void apply_log_options(const po::variables_map& vm) {
  const bool quiet = vm["quiet"].as<bool>(), verbose = vm["verbose"].as<bool>();
  if (quiet && verbose) throw po::error("--quiet and --verbose contradict each other");
  if (quiet) log_set_level(LogLevel::Warn);
  if (verbose) log_set_level(LogLevel::Debug);
  const std::string format = vm["log-format"].as<std::string>();
  if (format != "text" && format != "json") {
    throw po::error("--log-format must be text or json, got '" + format + "'");
  }
  log_set_format(format == "json" ? LogFormat::Json : LogFormat::Text);
}

}  // namespace

ParsedOptions parse_options(const Args& args, po::options_description& visible,
                            const po::options_description& hidden,
                            const po::positional_options_description& positional) {
  visible.add_options()("help,h", "show this help")(
      "config", po::value<std::string>(), "read options from an INI file (key = value)")(
      "quiet", po::bool_switch(), "log only warnings and errors")(
      "verbose", po::bool_switch(), "log debug messages too")(
      "log-format", po::value<std::string>()->default_value("text"),
      "text, or json: one JSON object per line (time, rank, level, event, message, fields)");
  po::options_description all;
  all.add(visible).add(hidden);
  ParsedOptions parsed;
  // No abbreviations: a typo must not silently mean another option (--pro is not --prompt).
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
  po::store(po::command_line_parser(args).options(all).positional(positional).style(style).run(), parsed.vm);
  if (parsed.vm.count("help")) {
    std::cout << visible << "\n";
    parsed.help = true;
    return parsed;
  }
  if (parsed.vm.count("config")) {
    const std::string file = parsed.vm["config"].as<std::string>();
    std::ifstream in(file);
    SV_CHECK_AS(ConfigError, in.good(), "{}: cannot read config file (no such file?)", file);
    try {
      po::store(po::parse_config_file(in, all), parsed.vm);
    } catch (const po::error& e) {
      throw ConfigError(file + ": " + e.what());
    }
  }
  po::notify(parsed.vm);
  apply_log_options(parsed.vm);
  return parsed;
}

std::string option_name(std::string_view field) {
  std::string name = "--" + std::string(field);
  for (char& c : name) c = c == '_' ? '-' : c;
  return name;
}

void validate_request_options(const SamplingRequest& request) {
  try {
    validate_request(request, option_name);
  } catch (const InputError& e) {
    throw po::error(e.what());
  }
}

void refuse_existing_outputs(const std::vector<std::filesystem::path>& paths, bool overwrite) {
  if (overwrite) return;
  for (const std::filesystem::path& p : paths) {
    std::error_code ec;
    SV_CHECK_AS(InputError, !std::filesystem::exists(std::filesystem::symlink_status(p, ec)),
                "{}: already exists; pass --overwrite to replace it (nothing was written)", p.string());
  }
}

void add_vae_tiling_options(boost::program_options::options_description& opts,
                            vae::SpatialTiling& tiling) {
  namespace po = boost::program_options;
  opts.add_options()(
      "vae-tile", po::value(&tiling.tile)->default_value(tiling.tile),
      "decode the video in spatial tiles of this many latent positions, blended (0: off, the "
      "exact default; tiling is approximate, for frames too large to decode whole)")(
      "vae-tile-overlap", po::value(&tiling.overlap)->default_value(tiling.overlap),
      "latent positions shared by neighbouring tiles");
}

Layout parse_layout_option(const std::string& text, int world_size) {
  return as_usage_error([&] {
    const Layout layout = Layout::parse(text);
    check_data_parallel(layout, world_size);
    return layout;
  });
}

double parse_image_share(const std::string& text) {
  if (text.empty()) return -1.0;
  size_t used = 0;
  double share = -1.0;
  try {
    share = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !(share >= 0 && share <= 1)) {
    throw boost::program_options::error("--image-share '" + text + "': expected a fraction in [0, 1]");
  }
  return share;
}

}  // namespace sv::cli
