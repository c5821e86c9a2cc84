// Option parsing shared by the subcommands: every subcommand accepts --help
// and --config FILE, an INI file in Boost.Program_options' format
// ("key = value" lines, option names without dashes) so runs are
// reproducible from configs/. The command line wins over the file.
#pragma once

#include <boost/program_options.hpp>

#include "cli/commands.h"
#include "models/vae/vae_spatial_tiles.h"

namespace sv::cli {

struct ParsedOptions {
  boost::program_options::variables_map vm;
  bool help = false;  // --help was given and the usage has been printed
};

// `visible` is printed by --help; `hidden` holds positional arguments.
ParsedOptions parse_options(const Args& args, boost::program_options::options_description& visible,
                            const boost::program_options::options_description& hidden = {},
                            const boost::program_options::positional_options_description& positional = {});

// --vae-tile N and --vae-tile-overlap M (the optional, approximate spatial
// tiling of the VAE decode; off by default) bound to `tiling`. Call
// tiling.validate() after parsing.
void add_vae_tiling_options(boost::program_options::options_description& opts,
                            vae::SpatialTiling& tiling);

}  // namespace sv::cli
