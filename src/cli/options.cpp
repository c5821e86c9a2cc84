#include "cli/options.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/error.h"

namespace sv::cli {

namespace po = boost::program_options;

ParsedOptions parse_options(const Args& args, po::options_description& visible,
                            const po::options_description& hidden,
                            const po::positional_options_description& positional) {
  visible.add_options()("help,h", "show this help")(
      "config", po::value<std::string>(), "read options from an INI file (key = value)");
  po::options_description all;
  all.add(visible).add(hidden);
  ParsedOptions parsed;
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), parsed.vm);
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
  return parsed;
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

}  // namespace sv::cli
