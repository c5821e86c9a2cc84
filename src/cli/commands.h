// Subcommands. Each parses its own options (Boost.Program_options, with
// --config FILE for INI files) and returns an exit code; errors propagate as
// sv::Error and are mapped to exit codes by main().
#pragma once

#include <string>
#include <vector>

namespace sv::cli {

using Args = std::vector<std::string>;  // arguments after the subcommand name

int cmd_inspect(const Args& args);
int cmd_verify(const Args& args);
int cmd_bench(const Args& args);

}  // namespace sv::cli
