// Option parsing shared by the subcommands: every subcommand accepts --help
// and --config FILE, an INI file in Boost.Program_options' format
// ("key = value" lines, option names without dashes) so runs are
// reproducible from configs/. The command line wins over the file.
#pragma once

#include <filesystem>
#include <vector>

#include <boost/program_options.hpp>

#include "core/error.h"

#include "cli/commands.h"
#include "parallel/layout.h"
#include "models/vae/vae_spatial_tiles.h"
#include "stages/generation_request.h"

namespace sv::cli {

struct ParsedOptions {
  boost::program_options::variables_map vm;
  bool help = false;  // --help was given and the usage has been printed
};

// `visible` is printed by --help; `hidden` holds positional arguments.
ParsedOptions parse_options(const Args& args, boost::program_options::options_description& visible,
                            const boost::program_options::options_description& hidden = {},
                            const boost::program_options::positional_options_description& positional = {});

// "--cfg-scale" for the field "cfg_scale": how requests name their fields
// when the values come from the command line (stages::FieldName).
std::string option_name(std::string_view field);

// validate_request for values from the command line: a bad one is a usage
// error (exit 2) naming the option.
void validate_request_options(const SamplingRequest& request);

// Runs `parse` (a parser of one option's value that throws sv::Error) and
// turns its error into a usage error (exit 2): a value typed on the command
// line is the command line's fault.
template <typename Parse>
auto as_usage_error(Parse&& parse) {
  try {
    return parse();
  } catch (const Error& e) {
    throw boost::program_options::error(e.what());
  }
}

// --layout under this launch: parsed, and a given dp checked against the
// world size (usage errors: exit 2).
Layout parse_layout_option(const std::string& text, int world_size);

// Refuses, before any work, output paths that already hold something, unless
// --overwrite was given: an InputError naming the first one.
void refuse_existing_outputs(const std::vector<std::filesystem::path>& paths, bool overwrite);

// --vae-tile N and --vae-tile-overlap M (the optional, approximate spatial
// tiling of the VAE decode; off by default) bound to `tiling`. Call
// tiling.validate() after parsing.
void add_vae_tiling_options(boost::program_options::options_description& opts,
                            vae::SpatialTiling& tiling);

// --image-share's value: a fraction in [0, 1]; "" (not given) gives -1 (no
// set mix). A usage error naming the option otherwise.
double parse_image_share(const std::string& text);

}  // namespace sv::cli
