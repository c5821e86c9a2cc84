// stepvideo export: a training checkpoint to a release-layout model directory
// (train/model_export.h).
#include <boost/program_options.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/export_command.h"
#include "cli/options.h"
#include "train/model_export.h"

namespace sv::cli {

namespace po = boost::program_options;

void add_export_options(po::options_description& opts, std::string& out, std::string& dtype) {
  opts.add_options()("out", po::value(&out)->required(), "model directory to create")(
      "ema", po::bool_switch(), "the EMA weights (the run needs --ema-decay > 0)")(
      "dtype", po::value(&dtype)->default_value(dtype), "bf16 (as the release) or f32")(
      "overwrite", po::bool_switch(), "replace --out if it exists");
}

int run_export(std::vector<std::filesystem::path> checkpoints, const std::string& out, const std::string& dtype,
               const po::variables_map& vm) {
  if (dtype != "bf16" && dtype != "f32") throw po::error("--dtype must be bf16 or f32, got '" + dtype + "'");
  train::ExportOptions o;
  o.checkpoints = std::move(checkpoints);
  o.out = out;
  o.ema = vm["ema"].as<bool>();
  o.dtype = dtype == "bf16" ? DType::BF16 : DType::F32;
  o.overwrite = vm["overwrite"].as<bool>();
  train::export_model(o);
  return kExitOk;
}

int cmd_export(const Args& args, const Context&) {
  std::string checkpoint, out, dtype = "bf16";
  po::options_description opts(
      "stepvideo export --checkpoint FILE [--ema] [--dtype bf16|f32] --out MODEL_DIR\n\n"
      "Writes a model directory in the release layout from a training checkpoint\n"
      "(RUN_DIR/checkpoints/step-N.h5): the transformer from its weights, every other\n"
      "component from the base model it was trained from. generate and run load it as is");
  opts.add_options()("checkpoint", po::value(&checkpoint)->required(), "training checkpoint (step-N.h5)");
  add_export_options(opts, out, dtype);
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  return run_export({checkpoint}, out, dtype, parsed.vm);
}

}  // namespace sv::cli
