// stepvideo bench train: one training step's forward + loss + backward of the
// DiT with random f32 weights, with the same shape flags as `bench dit`, and
// the GEMM rate of this machine measured in the same run (the ceiling the
// step's matrix products can reach). Under mpirun with --layout, the step of
// each rank's share (the gradient sum over dp x sp included) and the bytes
// every rank sends, beside their analytic count. With --optimizer on (or
// --zero 1) the step ends with AdamW, and the optimizer state per rank is
// reported. One JSON line on stdout.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>
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
#include "parallel/mpi_groups.h"
#include "train/dit_step.h"
#include "train/gradient_reduction.h"
#include "train/sharded_adamw.h"

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

// Bytes one rank sends in a step, as CountingCommunicator counts them (ring
// all-reduce 2 (n-1)/n of the buffer, pairwise all-to-all, ring all-gather).
// tp, per block: forward 3 all-reduces of the [b, S/sp, D] activation (the
// row-parallel outputs), backward 3 more (the column-parallel inputs' dx) and
// one of the [b, text, D] text (cross-attention's kv), and 4 of a head_dim
// weight gradient (q/k norms). sp, per block: 4 all-to-alls of [b, S/sp, D/tp]
// each way, and the all-gather of the [b, S/sp, 64] output. dp x sp: the
// gradient buckets, a reduce-scatter and an all-gather each (2 (n-1)/n of the
// gradient; the padding of each bucket to a multiple of n is not counted;
// under ZeRO-1 the all-gather carries weights instead, the same size).
// AdamW's global norm: an all-gather of 2 x 2 floats per rank over tp (a
// double travels as two floats), and under ZeRO-1 4 x 2 over dp x sp first.
double analytic_step_bytes(const DitConfig& c, const Layout& l, int64_t local_batch, int64_t tokens, int64_t text,
                           int dp_sp, int64_t gradient_elements, const std::string& optimizer) {
  const double f32 = 4.0, d = static_cast<double>(c.inner_dim()), layers = static_cast<double>(c.num_layers);
  const double act = static_cast<double>(local_batch) * static_cast<double>(tokens) / l.sp * d * f32;
  const double text_act = static_cast<double>(local_batch) * static_cast<double>(text) * d * f32;
  double bytes = 0.0;
  if (l.tp > 1) {
    const double ring = 2.0 * (l.tp - 1) / l.tp;
    bytes += layers * ring * (6.0 * act + text_act + 4.0 * static_cast<double>(c.attention_head_dim) * f32);
  }
  if (l.sp > 1) {
    bytes += layers * 8.0 * act / l.tp * (l.sp - 1) / l.sp;
    bytes += static_cast<double>(local_batch) * static_cast<double>(tokens) / l.sp * 64 * f32 * (l.sp - 1);
  }
  if (dp_sp > 1) bytes += 2.0 * (dp_sp - 1) / dp_sp * static_cast<double>(gradient_elements) * f32;
  if (optimizer != "none") bytes += 2.0 * 2.0 * f32 * (l.tp - 1);
  if (optimizer == "zero1") bytes += 4.0 * 2.0 * f32 * (dp_sp - 1);
  return bytes;
}

}  // namespace

int bench_train(const Args& args, const Context& context) {
  int64_t heads = 16, layers = 4, frames = 2, height = 24, width = 22, text = 300, caption = 6144, batch = 2,
          reps = 3, seed = 0;
  double one_rank_s = 0.0;
  int zero = 0;
  std::string checkpointing = "off", layout_text, optimizer_flag = "off";
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
      "on: recompute each block in backward")(
      "layout", po::value(&layout_text)->default_value(""),
      "under mpirun: tp=T,sp=S[,dp=D]; --batch is the global batch, split over the dp replicas")(
      "optimizer", po::value(&optimizer_flag)->default_value(optimizer_flag),
      "on: end each step with AdamW (global norm, clipping, update) and report its state per rank")(
      "zero", po::value(&zero)->default_value(zero),
      "1: ZeRO-1, AdamW's moments split over dp x sp (implies --optimizer on)")(
      "one-rank-s", po::value(&one_rank_s)->default_value(one_rank_s),
      "median_s of the same command on one rank: prints the scaling efficiency t1 / (ranks x t)");
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  for (auto [v, name] : {std::pair{heads, "heads"}, {layers, "layers"}, {frames, "frames"}, {height, "height"},
                         {width, "width"}, {text, "text"}, {caption, "caption"}, {batch, "batch"}, {reps, "reps"}}) {
    if (v <= 0) throw po::error(std::string("--") + name + " must be positive");
  }
  if (checkpointing != "on" && checkpointing != "off") throw po::error("--activation-checkpointing must be on or off");
  if (optimizer_flag != "on" && optimizer_flag != "off") throw po::error("--optimizer must be on or off");
  if (zero != 0 && zero != 1) throw po::error("--zero must be 0 or 1");
  const Layout layout = parse_layout_option(layout_text, context.mpi.world_size());
  if (layout.cfg != 1 || layout.pp != 1) throw po::error("--layout: bench train takes tp, sp and dp (as train)");

  DitConfig config;
  config.num_attention_heads = heads;
  config.num_layers = layers;
  config.in_channels = config.out_channels = 64;
  config.caption_channels = caption;
  config.clip_channels = 0;
  ParallelGroups groups = make_parallel_groups(context.mpi, layout, heads, layers);
  if (batch % groups.dp_size != 0) {
    throw po::error(fmt::format("--batch {} does not split over {} data-parallel replicas", batch, groups.dp_size));
  }
  const int64_t local_batch = batch / groups.dp_size;
  const SentBytes sent({&groups.tp, &groups.sp, &groups.dp_sp});  // every communicator the step uses
  DitModel model(config, groups);
  init_parameters_random(model.registry(), static_cast<uint64_t>(seed));
  // ZeRO-1 needs more than one rank to split over; alone it is plain AdamW.
  const std::string optimizer = zero == 1 && groups.dp_sp->size() > 1 ? "zero1"
                                : zero == 1 || optimizer_flag == "on" ? "adamw"
                                                                      : "none";
  constexpr int64_t kBucketBytes = int64_t{25} << 20;  // train's default --grad-bucket-mb
  std::unique_ptr<train::DitGradientReduction> reduction;
  if (groups.dp_sp->size() > 1) {
    reduction = std::make_unique<train::DitGradientReduction>(
        model.registry(), groups.dp_sp, kBucketBytes,
        optimizer == "zero1" ? train::DitGradientReduction::Result::OwnChunks : train::DitGradientReduction::Result::Sums);
  }
  std::unique_ptr<train::AdamW> adamw;
  std::unique_ptr<train::ShardedAdamW> sharded;
  if (optimizer == "adamw") adamw = std::make_unique<train::AdamW>(train::AdamWSettings{});
  if (optimizer == "zero1") {
    sharded = std::make_unique<train::ShardedAdamW>(train::AdamWSettings{}, reduction->layout(), groups.dp_sp, groups.tp,
                                                     groups.pp);
  }
  train::DitBatch b;
  b.x0 = gaussian_noise(Shape{local_batch, frames, 64, height, width}, static_cast<uint64_t>(seed) + 1);
  b.noise = gaussian_noise(b.x0.shape(), static_cast<uint64_t>(seed) + 2);
  b.t = Tensor::full(Shape{local_batch}, 0.7f);
  b.encoder_hidden_states = gaussian_noise(Shape{local_batch, text, caption}, static_cast<uint64_t>(seed) + 3);
  b.encoder_attention_mask = Tensor::full(Shape{local_batch, text}, 1.0f);

  const int64_t tokens = frames * height * width;
  const double flops = 3.0 * DitModel::forward_flops(config, batch, tokens, text, 0);
  log_info("bench train: {} layers, {} heads (dim {}), batch {}, {} video + {} text tokens, {:.1f} GFLOP per step "
           "(3x forward), activation checkpointing {}, {} threads, layout {} x dp {}",
           layers, heads, config.inner_dim(), batch, tokens, text, flops / 1e9, checkpointing, omp_get_max_threads(),
           layout.str(), groups.dp_size);
  // The machine's speed drifts (a shared VM): the GEMM rate is measured before
  // and after the steps, and the higher figure is the yardstick.
  const double gemm_before = gemm_gflops(batch * tokens, config.inner_dim(), reps);
  const LargeBlockReuse reuse;  // as `train` runs
  Gradients grads;
  std::vector<double> times;
  int64_t step_bytes = 0;
  for (int64_t r = 0; r <= reps; ++r) {
    grads.zero();
    groups.world->barrier();  // the ranks start each step together
    const auto start = std::chrono::steady_clock::now();
    const int64_t bytes_before = sent.total();
    DitTrainingOptions options{checkpointing == "on", {}};
    if (reduction) options.block_gradients_done = [&](int64_t block) { reduction->block_done(grads, block); };
    train::dit_flow_matching_step(model, b, options, grads, static_cast<double>(local_batch) / static_cast<double>(batch));
    if (reduction) reduction->finish(grads);
    constexpr float kLr = 1e-4f;
    if (adamw) {
      const std::vector<train::ParameterGradient> list = train::parameter_gradients(model.registry(), grads);
      adamw->step(list, kLr, train::global_grad_norm(list, *groups.tp, *groups.pp));
    } else if (sharded) {
      sharded->step(reduction->own_chunks(), kLr, sharded->global_norm(reduction->own_chunks()));
    }
    step_bytes = sent.total() - bytes_before;
    const double s = seconds_since(start);
    log_info("bench train: {} {:.3f} s ({:.1f} GFLOP/s)", r == 0 ? "warm-up" : "rep", s, flops / s / 1e9);
    if (r > 0) times.push_back(s);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const int64_t peak_rss_bytes = max_over(*groups.world, static_cast<int64_t>(usage.ru_maxrss) * 1024);
  const double gemm = std::max(gemm_before, gemm_gflops(batch * tokens, config.inner_dim(), reps));
  const double median = max_over(*groups.world, static_cast<float>(median_of(times)));
  int64_t gradient_elements = 0;
  for (const auto& p : model.registry().parameters()) {
    if (const Tensor* g = grads.find(*p)) gradient_elements += g->numel();
  }
  const double analytic = analytic_step_bytes(config, layout, local_batch, tokens, text, groups.dp_sp->size(),
                                              gradient_elements, optimizer);
  int64_t state_bytes = 0;
  if (sharded) state_bytes = sharded->moment_bytes();
  if (adamw) {
    for (const auto& [name, m] : adamw->all_moments()) state_bytes += (m.exp_avg.numel() + m.exp_avg_sq.numel()) * 4;
  }
  state_bytes = max_over(*groups.world, state_bytes);
  const int64_t bytes_max = max_over(*groups.world, step_bytes);
  if (groups.world_rank != 0) return kExitOk;
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
  j["layout"] = layout.str();
  j["ranks"] = groups.world_size;
  j["dp"] = groups.dp_size;
  j["gflop_per_step"] = flops / 1e9;
  j["median_s"] = median;
  j["min_s"] = *std::min_element(times.begin(), times.end());
  j["gflops"] = flops / median / 1e9;
  j["gemm_gflops"] = gemm;
  // Per rank: each rank computes 1/ranks of the step's FLOPs.
  j["fraction_of_gemm"] = flops / groups.world_size / median / 1e9 / gemm;
  if (one_rank_s > 0) j["scaling_efficiency"] = one_rank_s / (groups.world_size * median);
  j["bytes_sent_per_step_max_rank"] = bytes_max;
  j["bytes_sent_per_step_analytic"] = analytic;
  j["peak_rss_bytes"] = peak_rss_bytes;  // the largest rank's
  j["optimizer"] = optimizer;
  j["optimizer_state_bytes_max_rank"] = state_bytes;  // AdamW's moments
  std::cout << j.dump() << std::endl;
  return kExitOk;
}

}  // namespace sv::cli
