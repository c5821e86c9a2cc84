// stepvideo train --component vae: the Video-VAE's encoder and decoder
// trained on a media manifest (README "Training the Video-VAE";
// src/train/vae_trainer.h). Resumes from RUN_DIR's newest complete
// checkpoint; SIGTERM/SIGUSR1 checkpoint and exit 75.
#include <filesystem>

#include <boost/program_options.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "core/error.h"
#include "parallel/mpi_communicator.h"
#include "train/vae_trainer.h"

namespace sv::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;

int cmd_train_vae(const Args& args, const Context& context) {
  train::VaeTrainConfig c;
  std::string model, data, out, schedule = "constant", component, image_share;
  po::options_description opts(
      "stepvideo train --component vae --model DIR --data MANIFEST.jsonl --out RUN_DIR [options]\n\n"
      "Trains the Video-VAE (encoder and decoder) of a model directory on the videos and images of a\n"
      "media manifest (the JSONL encode-dataset takes; `make-dataset` writes one): each item one whole\n"
      "VAE chunk (--frames) scaled and centre-cropped to --height x --width, images as 1-frame clips.\n"
      "Loss: mean |reconstruction - input| + --l2-weight x their mean squared difference + --kl-weight x\n"
      "the mean KL of the latents to N(0, 1).\n"
      "RUN_DIR gets checkpoints/step-N.h5, metrics.jsonl (loss, l1, kl, psnr), tensorboard/, loss.svg and\n"
      "config.json; the same command again resumes. `stepvideo export --checkpoint` makes a model\n"
      "directory with the trained VAE. Exit: 0 done, 75 stopped by SIGTERM/SIGUSR1 (checkpoint written).\n"
      "One process (mpirun with more ranks is refused). Every option is also an INI key for --config");
  opts.add_options()("component", po::value(&component)->required(), "vae (dit: the DiT, see train --help)")(
      "model", po::value(&model)->required(), "base model directory (its vae/ is trained)")(
      "data", po::value(&data)->required(), "media manifest (JSONL of {id, video or image, caption})")(
      "out", po::value(&out)->required(), "run directory (created; resumed when it holds checkpoints)")(
      "steps", po::value(&c.steps)->default_value(c.steps), "optimizer steps in all")(
      "seed", po::value(&c.seed)->default_value(c.seed), "seed of every random draw (order, latent samples)")(
      "batch-size", po::value(&c.batch_size)->default_value(c.batch_size), "clips per optimizer step")(
      "height", po::value(&c.height)->default_value(c.height), "clip height (a multiple of 16)")(
      "width", po::value(&c.width)->default_value(c.width), "clip width (a multiple of 16)")(
      "frames", po::value(&c.frames)->default_value(c.frames), "frames per video clip: 17 or 9 (one VAE chunk)")(
      "image-share", po::value(&image_share)->default_value(""),
      "the fraction of steps that train on a batch of images (1-frame clips); default: as the data falls")(
      "kl-weight", po::value(&c.kl_weight)->default_value(c.kl_weight),
      "weight of the mean KL per latent value against the mean L1 per pixel value")(
      "l2-weight", po::value(&c.l2_weight)->default_value(c.l2_weight),
      "weight of the mean squared error per pixel value (0: L1 alone)")(
      "init-logvar", po::value<double>(),
      "a fresh run: set the log-variance half of the encoder's output bias to this (e.g. -6: a nearly\n"
      "deterministic start, so the decoder can read the latents from the first steps); default: unchanged")(
      "zero-init-residuals", po::bool_switch(&c.zero_init_residuals),
      "a fresh run: zero the last layer of every residual branch (each block starts as the identity)")(
      "lr", po::value(&c.lr)->default_value(c.lr), "peak learning rate")(
      "lr-schedule", po::value(&schedule)->default_value(schedule), "constant, cosine or linear (to --lr-floor)")(
      "lr-floor", po::value(&c.lr_floor)->default_value(c.lr_floor), "learning rate at the end of the decay")(
      "lr-fan-in", po::value(&c.lr_fan_in)->default_value(c.lr_fan_in),
      "weights with more inputs per output than this learn at lr x this / inputs (0: all at lr)")(
      "warmup-steps", po::value(&c.warmup_steps)->default_value(c.warmup_steps), "linear warm-up from lr/N")(
      "beta1", po::value(&c.adamw.beta1)->default_value(c.adamw.beta1), "AdamW beta1")(
      "beta2", po::value(&c.adamw.beta2)->default_value(c.adamw.beta2), "AdamW beta2")(
      "adam-eps", po::value(&c.adamw.eps)->default_value(c.adamw.eps), "AdamW epsilon")(
      "weight-decay", po::value(&c.adamw.weight_decay)->default_value(c.adamw.weight_decay),
      "decoupled weight decay (convolution and projection weights only)")(
      "max-grad-norm", po::value(&c.adamw.max_grad_norm)->default_value(c.adamw.max_grad_norm),
      "clip the global gradient norm to this (0: no clipping)")(
      "max-bad-steps", po::value(&c.max_bad_steps)->default_value(c.max_bad_steps),
      "stop after this many steps in a row with NaN/Inf loss or gradients")(
      "checkpoint-every", po::value(&c.checkpoint_every)->default_value(c.checkpoint_every), "steps between checkpoints")(
      "keep-checkpoints", po::value(&c.keep_checkpoints)->default_value(c.keep_checkpoints), "newest checkpoints kept")(
      "log-every", po::value(&c.log_every)->default_value(c.log_every), "steps between progress lines");
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  if (component != "vae") throw po::error("--component must be vae or dit, got '" + component + "'");
  SV_CHECK_AS(NotSupported, context.mpi.world_size() == 1,
              "train --component vae runs in one process ({} ranks were started); run it without mpirun",
              context.mpi.world_size());
  if (parsed.vm.count("init-logvar")) c.init_logvar = parsed.vm["init-logvar"].as<double>();
  c.lr_schedule = as_usage_error([&] { return train::parse_lr_schedule(schedule); });
  c.image_share = parse_image_share(image_share);
  c.model = fs::absolute(model).lexically_normal();
  c.data = fs::absolute(data).lexically_normal();
  as_usage_error([&] {
    c.validate();
    return 0;
  });
  const train::VaeTrainerOptions options{c, fs::path(out), !parsed.vm["steps"].defaulted()};
  return train::train_vae(options) == train::VaeTrainOutcome::Preempted ? kExitPreempted : kExitOk;
}

}  // namespace sv::cli
