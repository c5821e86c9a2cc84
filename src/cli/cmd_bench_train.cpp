// stepvideo bench train: one training step's forward + loss + backward of the
// DiT with random f32 weights, with the same shape flags as `bench dit`, and
// the GEMM rate of this machine measured in the same run (the ceiling the
// step's matrix products can reach). One JSON line on stdout.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "cli/bench_stats.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "core/elapsed.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/random.h"
#include "layers/weight_loader.h"
#include "ops/linear.h"
#include "train/dit_step.h"

namespace sv::cli {

namespace po = boost::program_options;

namespace {

// The rate of the step's largest GEMM shape (tokens x D -> 4 D, the MLP's
// first projection), forward and both backward products, median of reps.
double gemm_gflops(int64_t rows, int64_t dim, int64_t reps) {
  const Tensor x = gaussian_noise(Shape{rows, dim}, 1);
  const Tensor w = gaussian_noise(Shape{4 * dim, dim}, 2);
  const Tensor dy = gaussian_noise(Shape{rows, 4 * dim}, 3);
  Tensor dw = Tensor::zeros(w.shape(), DType::F32);
  std::vector<double> times;
  for (int64_t r = 0; r <= reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const Tensor y = ops::linear(x, w, Tensor());
    const Tensor dx = ops::linear_backward(x, w, dy, &dw);
    if (r > 0) times.push_back(seconds_since(start));
  }
  return 3.0 * 2.0 * static_cast<double>(rows) * static_cast<double>(dim) * static_cast<double>(4 * dim) /
         median_of(times) / 1e9;
}

}  // namespace

int bench_train(const Args& args) {
  int64_t heads = 16, layers = 4, frames = 2, height = 24, width = 22, text = 300, caption = 6144, batch = 2,
          reps = 3, seed = 0;
  std::string checkpointing = "off";
  po::options_description opts(
      "stepvideo bench train [options]\n\nOne training step (forward, flow-matching loss, backward) of the DiT "
      "with random f32 weights: the shapes of `bench dit`; FLOPs counted as 3x the forward's");
  opts.add_options()("heads", po::value(&heads)->default_value(heads), "attention heads (x128 channels)")(
      "layers", po::value(&layers)->default_value(layers), "transformer blocks")(
      "frames", po::value(&frames)->default_value(frames), "latent frames")(
      "height", po::value(&height)->default_value(height), "latent height")(
      "width", po::value(&width)->default_value(width), "latent width")(
      "text", po::value(&text)->default_value(text), "text tokens")(
      "caption", po::value(&caption)->default_value(caption), "text embedding channels")(
      "batch", po::value(&batch)->default_value(batch), "samples per step")(
      "reps", po::value(&reps)->default_value(reps), "timed repetitions after one warm-up")(
      "seed", po::value(&seed)->default_value(seed), "weights and inputs seed")(
      "activation-checkpointing", po::value(&checkpointing)->default_value(checkpointing),
      "on: recompute each block in backward");
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  for (auto [v, name] : {std::pair{heads, "heads"}, {layers, "layers"}, {frames, "frames"}, {height, "height"},
                         {width, "width"}, {text, "text"}, {caption, "caption"}, {batch, "batch"}, {reps, "reps"}}) {
    if (v <= 0) throw po::error(std::string("--") + name + " must be positive");
  }
  if (checkpointing != "on" && checkpointing != "off") throw po::error("--activation-checkpointing must be on or off");

  DitConfig config;
  config.num_attention_heads = heads;
  config.num_layers = layers;
  config.in_channels = config.out_channels = 64;
  config.caption_channels = caption;
  config.clip_channels = 0;
  DitModel model(config, ParallelGroups::single());
  init_parameters_random(model.registry(), static_cast<uint64_t>(seed));
  train::DitBatch b;
  b.x0 = gaussian_noise(Shape{batch, frames, 64, height, width}, static_cast<uint64_t>(seed) + 1);
  b.noise = gaussian_noise(b.x0.shape(), static_cast<uint64_t>(seed) + 2);
  b.t = Tensor::full(Shape{batch}, 0.7f);
  b.encoder_hidden_states = gaussian_noise(Shape{batch, text, caption}, static_cast<uint64_t>(seed) + 3);
  b.encoder_attention_mask = Tensor::full(Shape{batch, text}, 1.0f);

  const int64_t tokens = frames * height * width;
  const double flops = 3.0 * DitModel::forward_flops(config, batch, tokens, text, 0);
  log_info("bench train: {} layers, {} heads (dim {}), batch {}, {} video + {} text tokens, {:.1f} GFLOP per step "
           "(3x forward), activation checkpointing {}, {} threads",
           layers, heads, config.inner_dim(), batch, tokens, text, flops / 1e9, checkpointing, omp_get_max_threads());
  // The machine's speed drifts (a shared VM): the GEMM rate is measured before
  // and after the steps, and the higher figure is the yardstick.
  const double gemm_before = gemm_gflops(batch * tokens, config.inner_dim(), reps);
  const LargeBlockReuse reuse;  // as `train` runs
  Gradients grads;
  std::vector<double> times;
  for (int64_t r = 0; r <= reps; ++r) {
    grads.zero();
    const auto start = std::chrono::steady_clock::now();
    train::dit_flow_matching_step(model, b, {checkpointing == "on", {}}, grads);
    const double s = seconds_since(start);
    log_info("bench train: {} {:.3f} s ({:.1f} GFLOP/s)", r == 0 ? "warm-up" : "rep", s, flops / s / 1e9);
    if (r > 0) times.push_back(s);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const int64_t peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  const double gemm = std::max(gemm_before, gemm_gflops(batch * tokens, config.inner_dim(), reps));
  const double median = median_of(times);
  nlohmann::ordered_json j;
  j["bench"] = "train";
  j["heads"] = heads;
  j["layers"] = layers;
  j["frames"] = frames;
  j["height"] = height;
  j["width"] = width;
  j["text"] = text;
  j["caption"] = caption;
  j["batch"] = batch;
  j["reps"] = reps;
  j["threads"] = omp_get_max_threads();
  j["activation_checkpointing"] = checkpointing == "on";
  j["gflop_per_step"] = flops / 1e9;
  j["median_s"] = median;
  j["min_s"] = *std::min_element(times.begin(), times.end());
  j["gflops"] = flops / median / 1e9;
  j["gemm_gflops"] = gemm;
  j["fraction_of_gemm"] = flops / median / 1e9 / gemm;
  j["peak_rss_bytes"] = peak_rss_bytes;
  std::cout << j.dump() << std::endl;
  return kExitOk;
}

}  // namespace sv::cli
