// What `export` and `average-checkpoints` share: their common options
// (--out, --ema, --dtype, --overwrite) turned into an export.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace sv::cli {

// Adds --out, --ema, --dtype and --overwrite to `opts`, writing --out and --dtype to the given strings.
void add_export_options(boost::program_options::options_description& opts, std::string& out, std::string& dtype);
// Exports (or averages) the checkpoints as the parsed options say; a usage error for a bad --dtype.
int run_export(std::vector<std::filesystem::path> checkpoints, const std::string& out, const std::string& dtype,
               const boost::program_options::variables_map& vm);

}  // namespace sv::cli
