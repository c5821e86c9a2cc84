// Subcommands. Each parses its own options (Boost.Program_options, with
// --config FILE for INI files) and returns an exit code; errors propagate as
// sv::Error and are mapped to exit codes by main().
#pragma once

#include <string>
#include <vector>

namespace sv {
class MpiRuntime;
}

namespace sv::cli {

using Args = std::vector<std::string>;  // arguments after the subcommand name

// What main() sets up for every subcommand: the MPI runtime (inactive for a
// plain single-process run).
struct Context {
  const MpiRuntime& mpi;
};

int cmd_inspect(const Args& args, const Context& context);
int cmd_verify(const Args& args, const Context& context);
int cmd_bench(const Args& args, const Context& context);
int cmd_generate(const Args& args, const Context& context);
int cmd_decode(const Args& args, const Context& context);
int cmd_encode(const Args& args, const Context& context);
int cmd_encode_text(const Args& args, const Context& context);
int cmd_init_model(const Args& args, const Context& context);
int cmd_run(const Args& args, const Context& context);
int cmd_status(const Args& args, const Context& context);
int cmd_train(const Args& args, const Context& context);
int cmd_encode_dataset(const Args& args, const Context& context);
int cmd_export(const Args& args, const Context& context);
int cmd_average_checkpoints(const Args& args, const Context& context);
int cmd_label(const Args& args, const Context& context);
int cmd_make_dataset(const Args& args, const Context& context);
int cmd_eval(const Args& args, const Context& context);
// `train --component vae` (cmd_train_vae.cpp), dispatched by cmd_train.
int cmd_train_vae(const Args& args, const Context& context);
// `bench train` (cmd_bench_train.cpp), dispatched by cmd_bench.
int bench_train(const Args& args, const Context& context);

}  // namespace sv::cli
