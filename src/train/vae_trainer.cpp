#include "train/vae_trainer.h"

#include <chrono>
#include <cmath>
#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/elapsed.h"
#include "core/error.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/stop_signal.h"
#include "io/durable_file.h"
#include "io/hdf5_tensors.h"
#include "io/video_reader.h"
#include "jobs/run_lock.h"
#include "models/model_directory.h"
#include "models/vae/vae_tensor_utils.h"
#include "train/batch_plan.h"
#include "train/clip_preprocess.h"
#include "train/dataset_manifest.h"
#include "train/dit_step.h"
#include "train/metrics_log.h"
#include "train/run_directory.h"
#include "train/tensorboard_writer.h"
#include "train/train_checkpoint.h"
#include "train/vae_step.h"

namespace sv::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The manifest's samples (preference pairs are refused; bad lines reported).
std::vector<DatasetItem> read_items(const fs::path& manifest) {
  DatasetManifest m = read_dataset_manifest(manifest);
  SV_CHECK_AS(InputError, !m.pairs, "{}: a manifest of preference pairs; the VAE trains on a manifest of videos and "
              "images ({{\"id\", \"video\" or \"image\", \"caption\"}} lines)", manifest.string());
  for (const DatasetManifestLine& bad : m.bad_lines) {
    log_warn("{}:{}: {} (line skipped)", manifest.string(), bad.line, bad.reason);
  }
  SV_CHECK_AS(InputError, !m.items.empty(), "{}: no usable line", manifest.string());
  return std::move(m.items);
}

BatchPlan make_plan(const std::vector<DatasetItem>& items, const VaeTrainConfig& c) {
  std::vector<std::string> buckets;
  std::vector<bool> image;
  for (const DatasetItem& item : items) {
    buckets.push_back(item.image ? "image" : "video");
    image.push_back(item.image);
  }
  if (c.image_share < 0) return BatchPlan(buckets, c.batch_size, c.seed);
  return BatchPlan(buckets, [&c](const std::string&) { return c.batch_size; }, c.seed, image, c.image_share);
}

// One item as the VAE's input: f32 [1, T, H, W, 3] channel-last in [-1, 1].
Tensor load_clip(const DatasetItem& item, const VaeTrainConfig& c) {
  const std::string what = fmt::format("{} ({})", item.id, item.media.string());
  io::VideoInfo info;
  const Tensor rgb = io::read_video(item.media, &info);
  const ClipGeometry geometry{c.height, c.width, c.frames, 1};
  Tensor video;
  if (item.image) {
    SV_CHECK_AS(InputError, info.frames == 1, "{}: an image item must be one picture, the file has {} frames", what,
                info.frames);
    video = prepare_still(rgb, geometry, 1);
  } else {
    video = prepare_clip(rgb, geometry, what);
  }
  return vae::to_channels_last(video.select(0, 0));
}

struct VaeCheckpointState {
  VaeTrainConfig config;
  int64_t step = 0, skipped_steps = 0, bad_in_a_row = 0, adamw_steps = 0;
};

json state_record(const VaeCheckpointState& s) {
  return json{{"format", kVaeCheckpointFormat},
              {"version", 1},
              {"step", s.step},
              {"skipped_steps", s.skipped_steps},
              {"bad_in_a_row", s.bad_in_a_row},
              {"adamw_steps", s.adamw_steps},
              {"generator",
               {{"kind", "philox4x32-10, keyed by (seed, step, position in the global batch)"},
                {"seed", s.config.seed}}},
              {"config", s.config.to_json()}};
}

VaeCheckpointState parse_state(const json& state, const fs::path& path) {
  VaeCheckpointState s;
  s.config = VaeTrainConfig::from_json(state.at("config"), path);
  s.step = state.at("step").get<int64_t>();
  s.skipped_steps = state.at("skipped_steps").get<int64_t>();
  s.bad_in_a_row = state.at("bad_in_a_row").get<int64_t>();
  s.adamw_steps = state.at("adamw_steps").get<int64_t>();
  return s;
}

// The encoder's output is the posterior's [mean, logvar] channels (double_z).
void set_initial_logvar(VaeModel& model, double logvar) {
  const VaeConfig& config = model.config();
  SV_CHECK_AS(InputError, config.encoder.double_z, "--init-logvar: this VAE's encoder has no log-variance output");
  const Parameter* bias = model.registry().find("encoder.conv_out.conv.bias");
  SV_CHECK(bias != nullptr && bias->value.numel() == 2 * config.z_channels, "encoder.conv_out.conv.bias not found");
  float* b = bias->value.data<float>();
  for (int64_t c = config.z_channels; c < 2 * config.z_channels; ++c) b[c] = static_cast<float>(logvar);
  log_info("the posterior starts with log-variance bias {} (--init-logvar)", logvar);
}

void zero_residual_branches(VaeModel& model) {
  int zeroed = 0;
  for (const auto& p : model.registry().parameters()) {
    const std::string& n = p->name;
    const bool resnet_out = n.find(".block") != std::string::npos && (n.ends_with(".conv2.conv.weight") ||
                                                                      n.ends_with(".conv2.conv.bias"));
    const bool attention_out = n.ends_with(".proj_out.conv.weight") || n.ends_with(".proj_out.conv.bias");
    if (!resnet_out && !attention_out) continue;
    std::fill_n(p->value.data<float>(), p->value.numel(), 0.0f);
    ++zeroed;
  }
  log_info("zeroed the last layer of every residual branch ({} tensors, --zero-init-residuals)", zeroed);
}

struct VaeRun {
  std::unique_ptr<VaeModel> model;
  std::unique_ptr<AdamW> adamw;
  VaeCheckpointState state;
};

// Fresh from the model directory's VAE, or resumed from the newest
// checkpoint that reads completely. A run directory holding another
// trainer's checkpoints is refused.
VaeRun start_or_resume(const VaeTrainerOptions& o) {
  VaeRun run;
  run.state.config = o.config;
  run.model = load_vae(o.config.model, VaeParts::Both);
  run.adamw = std::make_unique<AdamW>(o.config.adamw);
  for (const auto& [step, path] : list_checkpoints(o.run_dir)) {
    json record;
    try {
      record = json::parse(io::read_hdf5_string(path, "state"));
    } catch (const std::exception& e) {
      log_warn("{}: cannot be used ({}); trying the previous checkpoint", path.string(), e.what());
      continue;
    }
    SV_CHECK_AS(InputError, record.value("format", "") == kVaeCheckpointFormat,
                "{}: not a VAE training checkpoint (this run directory belongs to another trainer); use another --out",
                path.string());
    CheckpointContents tensors;
    VaeCheckpointState state;
    try {
      state = parse_state(record, path);
      read_checkpoint_tensors(path, CheckpointParts::All, tensors);
    } catch (const Error& e) {
      log_warn("{}: cannot be used ({}); trying the previous checkpoint", path.string(), e.what());
      continue;
    }
    const std::vector<std::string> changed = o.config.computation_differences(state.config);
    SV_CHECK_AS(ConfigError, changed.empty(),
                "{}: this run was started with other settings; only run length and logging may change on resume. "
                "Changed: {}. Use another --out for a new run",
                o.run_dir.string(), fmt::join(changed, ", "));
    load_checkpoint_weights(run.model->registry(), tensors, path);
    run.adamw->restore(state.adamw_steps, std::move(tensors.moments));
    // Run length and reporting as given now, but --steps only when given.
    const int64_t steps = o.steps_given ? o.config.steps : state.config.steps;
    state.config = o.config;
    state.config.steps = steps;
    run.state = state;
    log_info("resuming {} at step {} of {}", o.run_dir.string(), run.state.step, run.state.config.steps);
    return run;
  }
  if (!std::isnan(o.config.init_logvar)) set_initial_logvar(*run.model, o.config.init_logvar);
  if (o.config.zero_init_residuals) zero_residual_branches(*run.model);
  return run;
}

struct VaeStepMetrics {
  double loss = 0, l1 = 0, kl = 0, psnr = 0, grad_norm = 0, lr = 0, step_s = 0;
  bool clipped = false, skipped = false;
};

class VaeTrainingLoop {
 public:
  VaeTrainingLoop(VaeRun& run, std::vector<DatasetItem> items, const fs::path& run_dir)
      : run_(run),
        items_(std::move(items)),
        plan_(make_plan(items_, run.state.config)),
        run_dir_(run_dir),
        metrics_(run_dir / "metrics.jsonl", run.state.step),
        tensorboard_(run_dir / "tensorboard"),
        first_step_(run.state.step) {}

  VaeTrainOutcome run() {
    const VaeTrainConfig& c = run_.state.config;
    while (run_.state.step < c.steps) {
      if (stop_requested()) {
        checkpoint();
        log_info("stopping at step {} (signal {}): checkpoint written; run the same command to continue",
                 run_.state.step, stop_signal_number());
        return VaeTrainOutcome::Preempted;
      }
      const int64_t step = run_.state.step;
      const auto start = std::chrono::steady_clock::now();
      VaeStepMetrics m;
      take_step(step, m);
      m.step_s = seconds_since(start);
      report(step, m);
      if (run_.state.step % c.checkpoint_every == 0 || run_.state.step == c.steps) checkpoint();
    }
    return VaeTrainOutcome::Finished;
  }

 private:
  void take_step(int64_t step, VaeStepMetrics& m) {
    const VaeTrainConfig& c = run_.state.config;
    const VaeModel& model = *run_.model;
    m.lr = c.learning_rate(step);
    grads_.zero();
    const std::vector<int64_t> batch = plan_.batch(step);
    const double share = 1.0 / static_cast<double>(batch.size());
    const VaeLossWeights weights{c.kl_weight, c.l2_weight};
    double mse = 0.0;
    for (size_t j = 0; j < batch.size(); ++j) {
      const Tensor clip = load_clip(items_[static_cast<size_t>(batch[j])], c);
      const Shape latent{1, vae::VaeEncoder::latent_frames(clip.dim(1)), clip.dim(2) / 16, clip.dim(3) / 16,
                         model.config().z_channels};
      const Tensor noise = training_noise(latent, c.seed, step, static_cast<int64_t>(j));
      const VaeStepResult r = vae_reconstruction_step(model, clip, noise, weights, grads_, share);
      m.loss += share * r.loss;
      m.l1 += share * r.l1;
      m.kl += share * r.kl;
      mse += share * r.mse;
    }
    m.psnr = 10.0 * std::log10(4.0 / std::max(mse, 1e-12));  // peak-to-peak 2 in [-1, 1]
    std::vector<ParameterGradient> list = parameter_gradients(model.registry(), grads_);
    for (ParameterGradient& pg : list) pg.lr_scale = static_cast<float>(c.lr_scale(pg.parameter->full_shape));
    m.grad_norm = AdamW::global_norm(list);
    m.skipped = !std::isfinite(m.loss) || !std::isfinite(m.grad_norm);
    VaeCheckpointState& s = run_.state;
    if (m.skipped) {
      ++s.skipped_steps;
      ++s.bad_in_a_row;
      log_warn("step {}: loss {} / gradient norm {} not finite; step skipped ({} in a row)", step, m.loss, m.grad_norm,
               s.bad_in_a_row);
      if (s.bad_in_a_row >= c.max_bad_steps) {
        const auto kept = list_checkpoints(run_dir_);
        throw InputError(fmt::format(
            "{} steps in a row had a non-finite loss or gradient (last: step {}); stopping. The last good checkpoint "
            "is kept: {}. Lower --lr, or check the data",
            s.bad_in_a_row, step, kept.empty() ? "none was written" : kept.front().second.string()));
      }
    } else {
      s.bad_in_a_row = 0;
      m.clipped = run_.adamw->step(list, static_cast<float>(m.lr), m.grad_norm).clipped;
    }
    s.step = step + 1;
  }

  void report(int64_t step, const VaeStepMetrics& m) {
    const VaeTrainConfig& c = run_.state.config;
    auto finite_or_null = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
    const auto batch = static_cast<double>(c.batch_size);
    metrics_.append(json{{"step", step},
                         {"loss", finite_or_null(m.loss)},
                         {"l1", finite_or_null(m.l1)},
                         {"kl", finite_or_null(m.kl)},
                         {"psnr", finite_or_null(m.psnr)},
                         {"grad_norm", finite_or_null(m.grad_norm)},
                         {"clipped", m.clipped},
                         {"skipped", m.skipped},
                         {"lr", m.lr},
                         {"batch_size", c.batch_size},
                         {"samples_per_s", batch / m.step_s},
                         {"step_s", m.step_s},
                         {"epoch", plan_.epoch_of(step)}});
    const double wall = unix_seconds();
    if (std::isfinite(m.loss)) tensorboard_.add_scalar("train/loss", m.loss, step, wall);
    if (std::isfinite(m.psnr)) tensorboard_.add_scalar("train/psnr", m.psnr, step, wall);
    tensorboard_.add_scalar("train/kl", m.kl, step, wall);
    tensorboard_.add_scalar("train/lr", m.lr, step, wall);
    const int64_t done = run_.state.step;
    if (done % c.log_every == 0 || done == c.steps) {
      const double per_step = seconds_since(run_start_) / static_cast<double>(done - first_step_);
      log_info("step {}/{}  loss {:.5f}  l1 {:.5f}  kl {:.4f}  psnr {:.2f} dB  lr {:.3g}  {:.2f} s/step  ETA {:.0f} s",
               done, c.steps, m.loss, m.l1, m.kl, m.psnr, m.lr, per_step,
               per_step * static_cast<double>(c.steps - done));
    }
  }

  void checkpoint() {
    VaeCheckpointState& s = run_.state;
    s.adamw_steps = run_.adamw->steps_taken();
    CheckpointContents contents;
    for (const auto& p : run_.model->registry().parameters()) contents.weights[p->name] = p->value;
    for (const auto& [name, moments] : run_.adamw->all_moments()) contents.moments[name] = moments;
    fs::create_directories(run_dir_ / "checkpoints");
    const fs::path path = checkpoint_path(run_dir_, s.step);
    tensorboard_.flush();
    write_checkpoint_file(path, contents, state_record(s));
    prune_checkpoints(run_dir_, s.config.keep_checkpoints);
    write_loss_svg(run_dir_ / "loss.svg", metrics_.points());
    log_info("checkpoint {}", path.string());
  }

  VaeRun& run_;
  std::vector<DatasetItem> items_;
  BatchPlan plan_;
  fs::path run_dir_;
  MetricsLog metrics_;
  TensorBoardWriter tensorboard_;
  Gradients grads_;
  int64_t first_step_;
  std::chrono::steady_clock::time_point run_start_ = std::chrono::steady_clock::now();
};

}  // namespace

VaeTrainOutcome train_vae(const VaeTrainerOptions& o) {
  o.config.validate();
  // Everything that can be checked before the run directory is touched is.
  std::vector<DatasetItem> items = read_items(o.config.data);
  make_plan(items, o.config);  // refuses a batch size no kind can fill
  check_vae_files(o.config.model);
  const fs::path& run_dir = o.run_dir;
  fs::create_directories(run_dir);
  const jobs::RunLock lock(run_dir / "train.lock");
  remove_temporaries(run_dir);
  VaeRun run = start_or_resume(o);
  const VaeTrainConfig& c = run.state.config;
  if (run.state.step >= c.steps) {
    log_info("{}: already trained to step {} (--steps {}); nothing to do", run_dir.string(), run.state.step, c.steps);
    return VaeTrainOutcome::Finished;
  }
  io::write_text_atomic(run_dir / "config.json", c.to_json().dump(2) + "\n");
  log_info("training the Video-VAE of {} on {} items of {} for steps {}..{}, batch {} ({}x{}, {} frames per clip)",
           c.model.string(), items.size(), c.data.string(), run.state.step, c.steps, c.batch_size, c.height, c.width,
           c.frames);
  const LargeBlockReuse reuse;  // every step allocates the same activations
  return VaeTrainingLoop(run, std::move(items), run_dir).run();
}

bool is_vae_checkpoint(const fs::path& path) {
  try {
    return json::parse(io::read_hdf5_string(path, "state")).value("format", "") == kVaeCheckpointFormat;
  } catch (const std::exception&) {
    return false;
  }
}

VaeCheckpoint read_vae_checkpoint_weights(const fs::path& path) {
  const json state = read_checkpoint_state(path, kVaeCheckpointFormat);
  VaeCheckpoint out;
  const VaeCheckpointState s = parse_state(state, path);
  out.config = s.config;
  out.step = s.step;
  CheckpointContents tensors;
  read_checkpoint_tensors(path, CheckpointParts::Weights, tensors);
  out.weights = std::move(tensors.weights);
  return out;
}

}  // namespace sv::train
