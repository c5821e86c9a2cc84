// stepvideo generate: one prompt -> one MP4 and its sidecar JSON, through the
// whole pipeline (text encoders, DiT denoising with CFG, Video-VAE decode).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "cli/sampling_presets.h"
#include "core/elapsed.h"
#include "core/log.h"
#include "io/tensor_file.h"
#include "io/video_writer.h"
#include "models/model_directory.h"
#include "parallel/mpi_groups.h"
#include "stages/generation_pipeline.h"
#include "stages/memory_estimate.h"
#include "stages/step_progress.h"

namespace sv::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;

int cmd_generate(const Args& args, const Context& context) {
  std::string model, prompt, out, preset_name = "stepvideo-t2v", init_latents, save_latents, layout_text;
  int64_t frames = 204, height = 544, width = 992, seed = 0, fps = 25;
  po::options_description opts(
      "stepvideo generate --model DIR --prompt TEXT --out FILE.mp4 [options]\n\n"
      "Generates one video. Frames round down to a multiple of 17, height and width to\n"
      "multiples of 16. Writes FILE.mp4 (H.264; FILE.mkv: lossless FFV1) and FILE.json. A model's\n"
      "sampling.json sets its own defaults (steps, guidance, shift, size, fps, suffix, negative prompt);\n"
      "the options given here, and an explicit --preset, win over them");
  opts.add_options()("model", po::value(&model)->required(), "model directory (release layout)")(
      "prompt", po::value(&prompt)->required(), "the prompt")(
      "negative-prompt", po::value<std::string>(), "negative prompt (default: the model's sampling.json, else upstream's)")(
      "positive-suffix", po::value<std::string>(), "appended to the prompt (default: the model's sampling.json, else upstream's)")(
      "out", po::value(&out)->required(), "output video (.mp4 or .mkv)")(
      "preset", po::value(&preset_name)->default_value(preset_name),
      "sampling defaults: stepvideo-t2v (50 steps, cfg 9, shift 13) or turbo (15, 5, 17)")(
      "frames", po::value(&frames)->default_value(frames), "video frames")(
      "height", po::value(&height)->default_value(height), "video height")(
      "width", po::value(&width)->default_value(width), "video width")(
      "steps", po::value<int64_t>(), "denoising steps (default: preset)")(
      "cfg-scale", po::value<float>(), "guidance scale; <= 1 turns guidance off (default: preset)")(
      "time-shift", po::value<float>(), "schedule time shift (default: preset)")(
      "seed", po::value(&seed)->default_value(seed), "noise seed")(
      "fps", po::value(&fps)->default_value(fps), "frames per second of the video file")(
      "init-latents", po::value(&init_latents), "start from these latents (.safetensors or .h5) instead of noise")(
      "save-latents", po::value(&save_latents), "also write the denoised latents (.safetensors or .h5)")(
      "layout", po::value(&layout_text)->default_value(""),
      "parallel layout under mpirun: tp=T,sp=S,pp=P,cfg=C[,dp=D]; dp, when given, must be world/(tp*sp*pp*cfg)")(
      "offload", po::bool_switch(),
      "low memory: keep the DiT's bf16 weights mapped (widened per layer) and release it before "
      "the VAE loads");
  VaeDecodeOptions vae_decode;
  add_vae_tiling_options(opts, vae_decode.tiling);
  double progress_interval = 10.0;
  opts.add_options()("overwrite", po::bool_switch(),
                     "replace an existing output video, its sidecar .json and the --save-latents file")(
      "progress-interval", po::value(&progress_interval)->default_value(progress_interval),
      "seconds between denoising progress lines (0: every step)");
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  const po::variables_map& vm = parsed.vm;
  vae_decode.tiling.validate();
  const SamplingPreset& preset = find_sampling_preset(preset_name);
  // The command line, then the model's own defaults (sampling.json), then the preset.
  const SamplingDefaults sampling = resolve_sampling_defaults(vm, ModelSampling::read(model));
  frames = sampling.frames, height = sampling.height, width = sampling.width, fps = sampling.fps;
  DenoiseOptions denoise;
  denoise.steps = sampling.steps;
  denoise.cfg_scale = sampling.cfg_scale;
  denoise.time_shift = sampling.time_shift;
  // The same checks and rounding as every line of a `run` manifest.
  const SamplingRequest request{.frames = frames, .height = height, .width = width, .steps = denoise.steps,
                                .cfg_scale = denoise.cfg_scale, .time_shift = denoise.time_shift, .seed = seed,
                                .fps = fps};
  validate_request_options(request);
  if (!std::isfinite(progress_interval) || progress_interval < 0) {
    throw po::error("--progress-interval must be a finite number of seconds, not negative");
  }
  as_usage_error([&] { validate_prompt(prompt, option_name); });
  const VideoSize size = rounded_size(request);
  if (size != VideoSize{frames, height, width}) {
    log_info("note: rounded {} to {} (frames: a multiple of 17; height, width: multiples of 16)",
             describe_size({frames, height, width}), describe_size(size));
  }

  // Check the cheap things before minutes of compute.
  const fs::path out_path = out;
  const fs::path out_dir = out_path.has_parent_path() ? out_path.parent_path() : fs::path(".");
  const io::VideoCodec codec = as_usage_error([&] { return codec_for(out_path); });
  if (!save_latents.empty()) as_usage_error([&] { return io::tensor_file_format(save_latents); });
  const Layout layout = parse_layout_option(layout_text, context.mpi.world_size());
  std::vector<fs::path> outputs{out_path, sidecar_path(out_path)};
  if (!save_latents.empty()) outputs.emplace_back(save_latents);
  const bool overwrite = vm["overwrite"].as<bool>();
  refuse_existing_outputs(outputs, overwrite);
  SV_CHECK_AS(InputError, fs::is_directory(out_dir) && ::access(out_dir.c_str(), W_OK) == 0,
              "{}: output directory {} does not exist or is not writable", out, out_dir.string());
  check_model_directory(model);
  const DitConfig dit_config = DitConfig::from_file(fs::path(model) / "transformer" / "config.json");
  const MemoryEstimate memory = estimate_memory(
      model, MemoryRequest{.size = size, .batch = 1, .guided = denoise.cfg_scale > 1.0f, .all_models_loaded = false,
                           .offload = vm["offload"].as<bool>(), .model_shards = layout.tp * layout.pp,
                           .sequence_shards = layout.sp, .vae_tile = vae_decode.tiling.tile});
  check_memory(memory, available_memory(), "this video (" + describe_size(size) + ")");
  log_debug("memory estimate: {}", memory.describe());
  const ParallelGroups groups =
      make_parallel_groups(context.mpi, layout, dit_config.num_attention_heads, dit_config.num_layers);
  // One video: each model is loaded when its stage starts and released when done.
  GenerationPipeline pipeline(PipelineOptions{.model_dir = model,
                                              .residency = ModelResidency::StageWise,
                                              .offload = vm["offload"].as<bool>(),
                                              .vae_decode = vae_decode,
                                              .text = sampling.text},
                              groups);
  const Shape latent_shape = pipeline.latent_shape(size);
  Tensor latents;
  if (!init_latents.empty()) {
    latents = io::read_latents_file(init_latents);
    SV_CHECK_AS(InputError, latents.shape() == latent_shape, "{}: initial latents are {}, this video needs {}",
                init_latents, latents.shape().str(), latent_shape.str());
    SV_CHECK_AS(InputError, all_finite(latents), "{}: the initial latents contain NaN or infinity", init_latents);
  } else {
    latents = pipeline.noise(size, {seed});
  }
  const bool writer = context.mpi.world_rank() == 0;
  const PromptItem prompt_item{prompt, std::nullopt, std::nullopt};  // the pipeline's text defaults: `sampling`

  const auto t_start = std::chrono::steady_clock::now();
  nlohmann::ordered_json timings;
  // A stage's seconds without the loading of its model (listed on its own).
  const auto stage_seconds = [&](std::chrono::steady_clock::time_point since, const char* load_key) {
    return seconds_since(since) - pipeline.load_timings().value(load_key, 0.0);
  };
  auto t0 = t_start;
  const DitConditioning cond =
      batch_conditioning({pipeline.encode_text(prompt_item)}, denoise.cfg_scale > 1.0f);
  timings["text_encode_s"] = stage_seconds(t0, "load_text_s");

  t0 = std::chrono::steady_clock::now();
  StepProgress progress(progress_interval, "denoise");
  const Tensor denoised = pipeline.denoise(latents, cond, denoise, [&](int64_t step, int64_t steps, const Tensor&) {
    progress.step(step, steps);
    return true;
  });
  timings["denoise_s"] = stage_seconds(t0, "load_dit_s");
  check_denoised_latents(denoised);
  if (writer && !save_latents.empty()) {
    refuse_existing_outputs({save_latents}, overwrite);
    io::write_tensor_file(save_latents, {{"latents", denoised}});
  }

  // Decode (latent chunks spread over the replica's ranks); rank 0 writes.
  t0 = std::chrono::steady_clock::now();
  log_info("decoding {} latent frames to {} video frames on {} rank(s)", latent_shape[1], size.frames,
           groups.replica->size());
  const Tensor rgb = pipeline.decode(denoised);
  timings["vae_decode_s"] = stage_seconds(t0, "load_vae_s");
  if (!writer) return kExitOk;
  t0 = std::chrono::steady_clock::now();
  refuse_existing_outputs({out_path, sidecar_path(out_path)}, overwrite);  // nothing appeared meanwhile
  io::write_video(out_path, rgb, {.fps = static_cast<int>(fps), .codec = codec});
  timings["write_s"] = seconds_since(t0);
  timings["total_s"] = seconds_since(t_start);
  for (const auto& [key, value] : pipeline.load_timings().items()) timings[key] = value;

  VideoSidecar sidecar = pipeline.describe(out_path, prompt_item, seed, rgb.shape(), fps, denoise);
  if (!init_latents.empty()) sidecar.noise = "init-latents: " + init_latents;
  sidecar.details["preset"] = preset.name;
  sidecar.details["requested"] = {{"frames", frames}, {"height", height}, {"width", width}};
  sidecar.timings = timings;
  write_json_atomic(sidecar_path(out_path), sidecar_json(sidecar));
  log_info("wrote {} ({}) and {} in {:.1f} s", out_path.string(),
           describe_size({rgb.dim(0), rgb.dim(1), rgb.dim(2)}), sidecar_path(out_path).string(),
           seconds_since(t_start));
  std::cout << out_path.string() << std::endl;
  return kExitOk;
}

}  // namespace sv::cli
