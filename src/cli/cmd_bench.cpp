// stepvideo bench dit|train|vae ...: DiT forward-pass (and, cmd_bench_train.cpp,
// training-step) throughput and Video-VAE
// chunk decode time and memory with random weights, printed as one JSON line
// on stdout (logs go to stderr).
#include <malloc.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "cli/bench_stats.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "core/elapsed.h"
#include "core/log.h"
#include "core/memory.h"
#include "layers/weight_loader.h"
#include "models/dit/dit_model.h"
#include "models/vae/vae_model.h"
#include "parallel/mpi_groups.h"

namespace sv::cli {

namespace po = boost::program_options;

namespace {

Tensor random_tensor(const Shape& shape, std::mt19937_64& rng) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

int bench_dit(const Args& args, const Context& context) {
  int64_t heads = 16, layers = 4, frames = 2, height = 24, width = 22, text = 300,
          caption = 6144, batch = 2, reps = 3, seed = 0;
  po::options_description opts(
      "stepvideo bench dit [options]\n\nDiT forward pass with random f32 weights (no files): "
      "patch size 1, 64 latent channels, LLM text only; height/width in latent units");
  opts.add_options()(
      "heads", po::value(&heads)->default_value(heads), "attention heads (x128 channels)")(
      "layers", po::value(&layers)->default_value(layers), "transformer blocks")(
      "frames", po::value(&frames)->default_value(frames), "latent frames")(
      "height", po::value(&height)->default_value(height), "latent height")(
      "width", po::value(&width)->default_value(width), "latent width")(
      "text", po::value(&text)->default_value(text), "text tokens")(
      "caption", po::value(&caption)->default_value(caption), "text embedding channels")(
      "batch", po::value(&batch)->default_value(batch), "batch size (2 = one CFG pair)")(
      "reps", po::value(&reps)->default_value(reps), "timed repetitions after one warm-up")(
      "seed", po::value(&seed)->default_value(seed), "weights and inputs seed")(
      "layout", po::value<std::string>()->default_value(""),
      "parallel layout under mpirun, e.g. tp=2 or sp=2 (bytes sent are counted)");
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  const Layout layout = Layout::parse(parsed.vm["layout"].as<std::string>());
  for (auto [v, name] : {std::pair{heads, "heads"}, {layers, "layers"}, {frames, "frames"},
                         {height, "height"}, {width, "width"}, {text, "text"},
                         {caption, "caption"}, {batch, "batch"}, {reps, "reps"}}) {
    if (v <= 0) throw po::error(std::string("--") + name + " must be positive");
  }

  DitConfig config;
  config.num_attention_heads = heads;
  config.num_layers = layers;
  config.in_channels = config.out_channels = 64;
  config.caption_channels = caption;
  config.clip_channels = 0;
  // Every group communicator is wrapped so the bytes each rank sends are counted.
  ParallelGroups groups = make_parallel_groups(context.mpi, layout, heads, layers);
  const SentBytes sent({&groups.tp, &groups.sp, &groups.pp, &groups.cfg});
  DitModel model(config, groups);
  init_parameters_random(model.registry(), static_cast<uint64_t>(seed));

  std::mt19937_64 rng(static_cast<uint64_t>(seed) + 1);
  DitInputs in;
  in.hidden_states = random_tensor(Shape{batch, frames, 64, height, width}, rng);
  in.timestep = Tensor::full(Shape{batch}, 0.7f);
  in.encoder_hidden_states = random_tensor(Shape{batch, text, caption}, rng);
  in.encoder_attention_mask = Tensor::full(Shape{batch, text}, 1.0f);

  const int64_t tokens = frames * height * width;
  const double flops = DitModel::forward_flops(config, batch, tokens, text, 0);
  log_info("bench dit: {} layers, {} heads (dim {}), batch {}, {} video + {} text tokens, {:.1f} "
           "GFLOP per forward, {} threads",
           layers, heads, config.inner_dim(), batch, tokens, text, flops / 1e9,
           omp_get_max_threads());
  std::vector<double> times;
  int64_t bytes_per_forward = 0;
  for (int64_t r = 0; r <= reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const int64_t bytes_before = sent.total();
    const Tensor out = model.forward(in);
    bytes_per_forward = sent.total() - bytes_before;
    const double s = seconds_since(start);
    log_info("bench dit: {} {:.3f} s ({:.1f} GFLOP/s)", r == 0 ? "warm-up" : "rep", s, flops / s / 1e9);
    if (r > 0) times.push_back(s);
  }
  std::sort(times.begin(), times.end());
  const double median = median_of(times);
  // The slowest rank sets the pace; report its time and the largest rank's bytes.
  const double median_max = max_over(*groups.world, static_cast<float>(median));
  const int64_t bytes_max = max_over(*groups.world, bytes_per_forward);
  // Analytic bytes one rank sends per forward (ring all-reduce, pairwise all-to-all):
  // TP: 3 all-reduces of the [B, S/sp, D] activation per block, 2 (T-1)/T of it each;
  // SP: 4 all-to-alls of [B, S/sp, D/tp] per block (q, k, v out, o back), (S-1)/S of it
  // each, plus the final all-gather of the [B, S/sp, 64] output.
  const double act = static_cast<double>(batch) * static_cast<double>(tokens) / layout.sp *
                     static_cast<double>(config.inner_dim()) * 4.0;
  double analytic = 0.0;
  if (layout.tp > 1) analytic += layers * 3.0 * act * 2.0 * (layout.tp - 1) / layout.tp;
  if (layout.sp > 1) {
    analytic += layers * 4.0 * act / layout.tp * (layout.sp - 1) / layout.sp;
    analytic += static_cast<double>(batch) * static_cast<double>(tokens) / layout.sp * 64 * 4.0 *
                (layout.sp - 1);
  }
  // Peak resident memory of the largest rank: weights shrink with tp (each
  // rank reads only its slice) and activations with sp.
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const float rss_mib = max_over(*groups.world, static_cast<float>(usage.ru_maxrss) / 1024.0f);
  if (groups.world_rank != 0) return kExitOk;
  nlohmann::ordered_json j;
  j["bench"] = "dit";
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
  j["layout"] = layout.str();
  j["ranks"] = groups.world_size;
  j["gflop_per_forward"] = flops / 1e9;
  j["median_s"] = median_max;
  j["min_s"] = times.front();
  j["gflops"] = flops / median_max / 1e9;
  j["tokens_per_s"] = static_cast<double>(batch * tokens) / median_max;
  j["bytes_sent_per_forward_max_rank"] = bytes_max;
  j["bytes_sent_per_forward_analytic"] = analytic;
  j["peak_rss_mib_max_rank"] = rss_mib;
  std::cout << j.dump() << std::endl;
  return kExitOk;
}

double peak_rss_gib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / (1024.0 * 1024.0);
}

double current_rss_gib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / (1024.0 * 1024.0);
  }
  return 0;
}

struct TileError {
  double rel_l2 = 0, max_abs = 0, reference_rms = 0, psnr_8bit = 0;
};

// Float error of a tiled decode against the untiled one, and PSNR of the two
// after upstream's post-processing (clamp to [-1, 1], map to 0..255).
TileError tile_error(const Tensor& tiled, const Tensor& reference) {
  const float* a = tiled.contiguous().data<float>();
  const Tensor ref = reference.contiguous();
  const float* b = ref.data<float>();
  double num = 0, den = 0, sq8 = 0, max_abs = 0;
  auto to8 = [](float v) { return std::round((std::clamp(v, -1.0f, 1.0f) + 1.0f) * 127.5f); };
  const int64_t n = ref.numel();
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    num += d * d;
    den += static_cast<double>(b[i]) * b[i];
    max_abs = std::max(max_abs, std::fabs(d));
    const double d8 = to8(a[i]) - to8(b[i]);
    sq8 += d8 * d8;
  }
  TileError e;
  e.rel_l2 = std::sqrt(num / std::max(den, 1e-30));
  e.max_abs = max_abs;
  e.reference_rms = std::sqrt(den / static_cast<double>(n));
  const double mse8 = sq8 / static_cast<double>(n);
  e.psnr_8bit = mse8 > 0 ? 10 * std::log10(255.0 * 255.0 / mse8) : 999.0;
  return e;
}

// The real Video-VAE v2 decoder (random weights) on one chunk: time and peak
// resident memory, the figures issue 3 asks for at 544x992.
int bench_vae(const Args& args) {
  int64_t latent_frames = 3, height = 34, width = 62, seed = 0;
  VaeDecodeOptions options;
  po::options_description opts(
      "stepvideo bench vae [options]\n\nVideo-VAE v2 decode of one chunk with the real configuration "
      "(z 64, decoder ch 128) and random f32 weights (no files); height/width in latent units "
      "(34 x 62 -> 544 x 992 frames)");
  opts.add_options()("latent-frames", po::value(&latent_frames)->default_value(latent_frames),
                     "latent frames (3 = one chunk -> 17 frames)")(
      "height", po::value(&height)->default_value(height), "latent height")(
      "width", po::value(&width)->default_value(width), "latent width")(
      "seed", po::value(&seed)->default_value(seed), "weights and latents seed")(
      "whole-chunk", po::bool_switch(), "decode each level over the whole chunk instead of frame by frame")(
      "trace-memory", po::bool_switch(),
      "log resident memory after every decoder module that raised the peak (where the memory goes)")(
      "compare-untiled", po::bool_switch(),
      "with --vae-tile: also decode untiled (after the timed tiled run) and report the tiled error");
  add_vae_tiling_options(opts, options.tiling);
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  for (auto [v, name] : {std::pair{latent_frames, "latent-frames"}, {height, "height"}, {width, "width"}}) {
    if (v <= 0) throw po::error(std::string("--") + name + " must be positive");
  }
  const VaeConfig config = VaeConfig::stepvideo_v2();
  VaeModel vae(config, VaeParts::Decoder);
  init_parameters_random(vae.registry(), static_cast<uint64_t>(seed));
  const double rss_weights = peak_rss_gib();
  std::mt19937_64 rng(static_cast<uint64_t>(seed) + 1);
  const Tensor z = random_tensor(Shape{1, latent_frames, config.z_channels, height, width}, rng);
  options.tiling.validate();
  options.frame_by_frame = !parsed.vm["whole-chunk"].as<bool>();
  const std::string tiles =
      options.tiling.enabled()
          ? fmt::format("tiles of {} latents overlapping by {}", options.tiling.tile, options.tiling.overlap)
          : "untiled";
  log_info("bench vae: decoding {} latent frames of {}x{} (-> {}x{} frames), {}, {}, {} threads; weights "
           "loaded, peak RSS so far {:.2f} GiB", latent_frames, height, width, height * 16, width * 16,
           options.frame_by_frame ? "frame by frame" : "whole chunk", tiles, omp_get_max_threads(),
           rss_weights);
  const auto start = std::chrono::steady_clock::now();
  vae::TraceFn trace;
  double traced_peak = 0;
  if (parsed.vm["trace-memory"].as<bool>()) {
    trace = [&](std::string_view name, const Tensor& value) {
      const double peak = peak_rss_gib();
      if (peak <= traced_peak) return;
      traced_peak = peak;
      const struct mallinfo2 heap = mallinfo2();
      constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
      log_info("bench vae: after {} {}: RSS {:.2f} GiB, peak {:.2f} GiB; tensors {:.2f} GiB, heap {:.2f} "
               "GiB in use + {:.2f} GiB free", name, value.shape().str(), current_rss_gib(), peak,
               static_cast<double>(live_host_bytes()) / kGiB, static_cast<double>(heap.uordblks) / kGiB,
               static_cast<double>(heap.fordblks) / kGiB);
    };
  }
  const Tensor video = vae.decode_unmixed(z, options, trace);
  const double s = seconds_since(start);
  nlohmann::ordered_json j;
  j["bench"] = "vae";
  j["latents"] = Shape{1, latent_frames, config.z_channels, height, width}.dims();
  j["video"] = video.shape().dims();
  j["mode"] = options.frame_by_frame ? "frame_by_frame" : "whole_chunk";
  j["threads"] = omp_get_max_threads();
  j["decode_s"] = s;
  j["peak_rss_gib_after_weights"] = rss_weights;
  j["peak_rss_gib"] = peak_rss_gib();
  j["tile"] = options.tiling.tile;
  j["tile_overlap"] = options.tiling.overlap;
  if (options.tiling.enabled() && parsed.vm["compare-untiled"].as<bool>()) {
    log_info("bench vae: decoding again untiled for the error of the tiled decode");
    VaeDecodeOptions exact = options;
    exact.tiling = {};
    const Tensor reference = vae.decode_unmixed(z, exact);
    const TileError e = tile_error(video, reference);
    j["tiled_rel_l2"] = e.rel_l2;
    j["tiled_max_abs"] = e.max_abs;
    j["reference_rms"] = e.reference_rms;
    j["tiled_psnr_db_8bit"] = e.psnr_8bit;
  }
  std::cout << j.dump() << std::endl;
  return kExitOk;
}

}  // namespace

int cmd_bench(const Args& args, const Context& context) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "usage: stepvideo bench dit|train|vae [options]   (stepvideo bench dit --help)\n";
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] == "dit") return bench_dit(Args(args.begin() + 1, args.end()), context);
  if (args[0] == "vae") return bench_vae(Args(args.begin() + 1, args.end()));
  if (args[0] == "train") return bench_train(Args(args.begin() + 1, args.end()), context);
  throw po::error("unknown benchmark '" + args[0] + "' (available: dit, train, vae)");
}

}  // namespace sv::cli
