// stepvideo train: flow-matching training of the DiT on an encoded dataset
// (README "Training"; src/train/trainer.h). Resumes from RUN_DIR's newest
// complete checkpoint; SIGTERM/SIGUSR1 checkpoint and exit 75.
#include <filesystem>

#include <boost/program_options.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "core/error.h"
#include "models/dit/dit_config.h"
#include "models/model_directory.h"
#include "parallel/mpi_groups.h"
#include "train/trainer.h"

namespace sv::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

bool parse_on_off(const std::string& text, const char* option) {
  if (text == "on") return true;
  if (text == "off") return false;
  throw po::error(std::string(option) + " must be on or off, got '" + text + "'");
}

// The --component given on the command line ("dit" when none).
std::string component_of(const Args& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].starts_with("--component=")) return args[i].substr(12);
    if (args[i] == "--component" && i + 1 < args.size()) return args[i + 1];
  }
  return "dit";
}

}  // namespace

int cmd_train(const Args& args, const Context& context) {
  if (component_of(args) == "vae") return cmd_train_vae(args, context);
  train::TrainConfig c;
  std::string model, data, out, schedule = "constant", time_sampling = "uniform", checkpointing = "off", layout_text,
      objective = "flow-matching", image_share, component = "dit";
  po::options_description opts(
      "stepvideo train --model DIR --data DATA_DIR --out RUN_DIR [--config FILE.ini] [options]\n\n"
      "Trains the DiT of a release-layout model directory with the flow-matching objective on a\n"
      "dataset made by `stepvideo encode-dataset`. RUN_DIR gets checkpoints/step-N.h5, metrics.jsonl,\n"
      "tensorboard/, loss.svg and config.json. Running the same command again resumes from the\n"
      "newest complete checkpoint. Exit: 0 done, 75 stopped by SIGTERM/SIGUSR1 (checkpoint written).\n"
      "Under mpirun/srun the ranks train data parallel (each dp rank takes its share of every global\n"
      "batch), with --layout sp=S sequence parallel (S ranks share each sample's video tokens) and\n"
      "with tp=T tensor parallel (T ranks share each layer's heads and MLP).\n"
      "Every option is also an INI key (without the dashes) for --config.\n"
      "With --component vae it trains the Video-VAE instead (train --component vae --help)");
  opts.add_options()("component", po::value(&component)->default_value(component),
                     "dit, or vae (given on the command line: train --component vae --help)")("model", po::value(&model)->required(), "base model directory (release layout)")(
      "data", po::value(&data)->required(), "dataset directory (stepvideo encode-dataset)")(
      "out", po::value(&out)->required(), "run directory (created; resumed when it holds checkpoints)")(
      "layout", po::value(&layout_text)->default_value(""),
      "parallel layout under mpirun: tp=T (Megatron), sp=S (Ulysses) and dp=D (D: ranks / (T*S), the default)")(
      "steps", po::value(&c.steps)->default_value(c.steps), "optimizer steps in all")(
      "seed", po::value(&c.seed)->default_value(c.seed), "seed of every random draw (order, noise, t, dropout)")(
      "batch-size", po::value(&c.batch_size)->default_value(c.batch_size), "global samples per optimizer step")(
      "tokens-per-batch", po::value(&c.tokens_per_batch)->default_value(c.tokens_per_batch),
      "balance batches by tokens: each shape's global batch is floor(T / its video tokens per sample),\n"
      "rounded down to a multiple of dp (images get large batches, long videos small ones); 0: --batch-size")(
      "image-share", po::value(&image_share)->default_value(""),
      "joint image + video training: the fraction of steps that train on an image batch (images are\n"
      "1-frame samples), e.g. 0.25; images and videos walk their own epochs. Default: as the data falls")(
      "micro-batch-size", po::value(&c.micro_batch_size)->default_value(0),
      "samples per forward/backward on each rank (gradient accumulation); 0: its whole share of the batch,\n"
      "or 1 under pp (the 1F1B pipeline overlaps the stages over micro-batches)")(
      "lr", po::value(&c.lr)->default_value(c.lr), "peak learning rate")(
      "lr-schedule", po::value(&schedule)->default_value(schedule), "constant, cosine or linear (decay to --lr-floor)")(
      "lr-floor", po::value(&c.lr_floor)->default_value(c.lr_floor), "learning rate at the end of the decay")(
      "warmup-steps", po::value(&c.warmup_steps)->default_value(c.warmup_steps), "linear warm-up from lr/N")(
      "decay-start", po::value(&c.decay_start)->default_value(0),
      "step where the decay begins (before it: --lr); 0: after the warm-up")(
      "decay-steps", po::value(&c.decay_steps)->default_value(0), "step where the decay ends; 0: --steps")(
      "beta1", po::value(&c.adamw.beta1)->default_value(c.adamw.beta1), "AdamW beta1")(
      "beta2", po::value(&c.adamw.beta2)->default_value(c.adamw.beta2), "AdamW beta2")(
      "adam-eps", po::value(&c.adamw.eps)->default_value(c.adamw.eps), "AdamW epsilon")(
      "weight-decay", po::value(&c.adamw.weight_decay)->default_value(c.adamw.weight_decay),
      "decoupled weight decay (matrices and tables only; not biases or norm weights)")(
      "max-grad-norm", po::value(&c.adamw.max_grad_norm)->default_value(c.adamw.max_grad_norm),
      "clip the global gradient norm to this (0: no clipping)")(
      "time-sampling", po::value(&time_sampling)->default_value(time_sampling),
      "noise level u in (0,1): uniform or logit-normal")(
      "logit-mean", po::value(&c.time.logit_mean)->default_value(c.time.logit_mean), "logit-normal mean")(
      "logit-std", po::value(&c.time.logit_std)->default_value(c.time.logit_std), "logit-normal std")(
      "time-shift", po::value(&c.time.shift)->default_value(c.time.shift),
      "t = 1 - shift u / (1 + (shift-1) u); > 1 trains more near noise")(
      "text-dropout", po::value(&c.text_dropout)->default_value(c.text_dropout),
      "probability of the empty caption (so guidance works)")(
      "ema-decay", po::value(&c.ema_decay)->default_value(c.ema_decay), "EMA of the weights (0: none)")(
      "max-bad-steps", po::value(&c.max_bad_steps)->default_value(c.max_bad_steps),
      "stop after this many steps in a row with NaN/Inf loss or gradients")(
      "validation-samples", po::value(&c.validation_samples)->default_value(c.validation_samples),
      "samples held out of training for --validate-every")(
      "activation-checkpointing", po::value(&checkpointing)->default_value(checkpointing),
      "on: recompute each block in backward (less memory, identical gradients)")(
      "grad-bucket-mb", po::value(&c.grad_bucket_mb)->default_value(c.grad_bucket_mb),
      "data parallel: gradients are summed over the ranks in buckets of about this many MiB, each sent\n"
      "as soon as the backward fills it")(
      "objective", po::value(&objective)->default_value(objective),
      "flow-matching (videos or images with captions), or dpo: Video-DPO on a dataset of preference\n"
      "pairs (encode-dataset of a pairs manifest) against a frozen reference")(
      "reference", po::value<std::string>()->default_value(""),
      "dpo: the reference model directory (default: --model, the starting model)")(
      "dpo-beta", po::value(&c.dpo_beta)->default_value(c.dpo_beta),
      "dpo: beta of the loss (its scale belongs to per-element mean errors, as Diffusion-DPO's 5000)")(
      "reference-refresh-every", po::value(&c.reference_refresh_every)->default_value(c.reference_refresh_every),
      "dpo: copy the policy into the reference every N steps (0: never)")(
      "zero", po::value(&c.zero_stage)->default_value(c.zero_stage),
      "1: ZeRO stage 1, AdamW's moments split over the data-parallel (dp x sp) ranks, each updating its\n"
      "share of the weights; 0: every rank holds all moments. Same results either way; may change on resume")(
      "step-timeout", po::value(&c.step_timeout)->default_value(c.step_timeout),
      "multi-rank: seconds a step may make no progress before the job is ended (exit 6; a hung or dead\n"
      "rank); 0: 10x the slowest step so far, at least 60 s (900 s for the first step)")(
      "checkpoint-every", po::value(&c.checkpoint_every)->default_value(c.checkpoint_every), "steps between checkpoints")(
      "keep-checkpoints", po::value(&c.keep_checkpoints)->default_value(c.keep_checkpoints), "newest checkpoints kept")(
      "log-every", po::value(&c.log_every)->default_value(c.log_every), "steps between progress lines")(
      "validate-every", po::value(&c.validate_every)->default_value(c.validate_every),
      "steps between validation losses at fixed noise and t (held-out samples, else the first\n"
      "training samples); 0: never")(
      "sample-every", po::value(&c.sample_every)->default_value(c.sample_every),
      "steps between sample videos in RUN_DIR/samples/step-N/; 0: never")(
      "sample-prompts", po::value<std::string>()->default_value(""),
      "file of sample prompts, one per line (default: the first two training captions)")(
      "sample-steps", po::value(&c.sample_steps)->default_value(c.sample_steps), "denoising steps of a sample")(
      "sample-cfg-scale", po::value(&c.sample_cfg_scale)->default_value(c.sample_cfg_scale),
      "guidance scale of the samples (1: none)")(
      "sample-time-shift", po::value(&c.sample_time_shift)->default_value(c.sample_time_shift),
      "schedule shift of the samples");
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  if (component == "vae") throw po::error("--component vae: give it on the command line, not in --config");
  if (component != "dit") throw po::error("--component must be dit or vae, got '" + component + "'");
  const Layout layout = parse_layout_option(layout_text, context.mpi.world_size());
  if (layout.cfg != 1) {
    throw po::error("--layout: cfg has no meaning in training (it splits the two guidance branches of sampling); "
                    "leave it out");
  }
  SV_CHECK_AS(NotSupported, layout.model_parallel_size() == 1 || c.sample_every == 0,
              "--sample-every with --layout {}: sample videos during model-parallel training are not built yet; use "
              "--sample-every 0 and `export` + `generate`",
              layout.str());
  c.lr_schedule = as_usage_error([&] { return train::parse_lr_schedule(schedule); });
  c.objective = as_usage_error([&] { return train::parse_objective(objective); });
  if (!parsed.vm["reference"].as<std::string>().empty()) {
    c.reference = fs::absolute(parsed.vm["reference"].as<std::string>()).lexically_normal();
  }
  SV_CHECK_AS(NotSupported, c.objective != train::Objective::Dpo || c.validate_every == 0,
              "--objective dpo with --validate-every: a held-out DPO loss is not built yet; use --validate-every 0");
  c.time.kind = as_usage_error([&] { return train::parse_time_sampling(time_sampling); });
  c.image_share = parse_image_share(image_share);
  c.activation_checkpointing = parse_on_off(checkpointing, "--activation-checkpointing");
  if (!parsed.vm["sample-prompts"].as<std::string>().empty()) {
    c.sample_prompts = fs::absolute(parsed.vm["sample-prompts"].as<std::string>()).lexically_normal();
  }
  c.model = fs::absolute(model).lexically_normal();
  c.data = fs::absolute(data).lexically_normal();
  as_usage_error([&] {
    c.validate();
    return 0;
  });
  check_model_directory(c.model);
  const DitConfig dit = DitConfig::from_file(c.model / "transformer" / "config.json");
  if (c.objective == train::Objective::Dpo) {
    if (c.reference.empty()) c.reference = c.model;
    check_model_directory(c.reference);
    const DitConfig ref = DitConfig::from_file(c.reference / "transformer" / "config.json");
    SV_CHECK_AS(InputError,
                ref.num_layers == dit.num_layers && ref.num_attention_heads == dit.num_attention_heads &&
                    ref.attention_head_dim == dit.attention_head_dim && ref.in_channels == dit.in_channels &&
                    ref.patch_size == dit.patch_size && ref.caption_channels == dit.caption_channels &&
                    ref.clip_channels == dit.clip_channels,
                "--reference {}: another DiT than --model {} (layers, heads, channels or patch size differ)",
                c.reference.string(), c.model.string());
  }
  train::TrainerOptions options{c, fs::path(out), !parsed.vm["steps"].defaulted(),
                                make_parallel_groups(context.mpi, layout, dit.num_attention_heads, dit.num_layers),
                                [&context] { context.mpi.abort(kExitComm); }};
  as_usage_error([&] {
    train::check_batch_splits(c, options.groups.dp_size);
    return 0;
  });
  return train::train(options) == train::TrainOutcome::Preempted ? kExitPreempted : kExitOk;
}

}  // namespace sv::cli
