// stepvideo average-checkpoints: several training checkpoints of one model
// to a release-layout model directory holding their mean weights
// (train/model_export.h).
#include <boost/program_options.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/export_command.h"
#include "cli/options.h"

namespace sv::cli {

namespace po = boost::program_options;

int cmd_average_checkpoints(const Args& args, const Context&) {
  std::vector<std::string> checkpoints;
  std::string out, dtype = "bf16";
  po::options_description opts(
      "stepvideo average-checkpoints CHECKPOINT CHECKPOINT... --out MODEL_DIR [--ema] [--dtype bf16|f32]\n\n"
      "Writes a model directory in the release layout whose transformer holds the element-wise mean of\n"
      "the checkpoints' weights (RUN_DIR/checkpoints/step-N.h5 of runs from one base model; the report\n"
      "found averaged SFT checkpoints better than EMA). Every other component comes from the base model");
  add_export_options(opts, out, dtype);
  po::options_description hidden;
  hidden.add_options()("checkpoint", po::value(&checkpoints)->composing(), "training checkpoints");
  po::positional_options_description positional;
  positional.add("checkpoint", -1);
  const ParsedOptions parsed = parse_options(args, opts, hidden, positional);
  if (parsed.help) return kExitOk;
  if (checkpoints.size() < 2) throw po::error("give at least two checkpoints to average (one: use `export`)");
  return run_export({checkpoints.begin(), checkpoints.end()}, out, dtype, parsed.vm);
}

}  // namespace sv::cli
