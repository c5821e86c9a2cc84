#include "train/trainer.h"

#include <chrono>
#include <fstream>
#include <cmath>
#include <future>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/elapsed.h"
#include "core/error.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/sha256.h"
#include "core/stop_signal.h"
#include "io/durable_file.h"
#include "jobs/fault_injection.h"
#include "jobs/run_lock.h"
#include "layers/shard_tensors.h"
#include "models/model_directory.h"
#include "train/dataset.h"
#include "train/dit_step.h"
#include "train/metrics_log.h"
#include "train/run_directory.h"
#include "train/run_state.h"
#include "train/sample_videos.h"
#include "train/step_runner.h"
#include "train/step_watchdog.h"
#include "train/tensorboard_writer.h"
#include "train/train_checkpoint.h"

namespace sv::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void check_dataset_fits(const Dataset& data, const DitConfig& dit, const fs::path& model) {
  const DatasetHeader& h = data.header();
  const fs::path header = Dataset::header_path(data.dir());
  const fs::path config = model / "transformer" / "config.json";
  SV_CHECK_AS(InputError, h.latent_channels == dit.in_channels,
              "{}: latents have {} channels, but the model ({}) takes {}", header.string(), h.latent_channels,
              config.string(), dit.in_channels);
  SV_CHECK_AS(InputError, h.caption_channels == dit.caption_channels,
              "{}: captions are {} wide, but the model ({}) takes caption_channels {}", header.string(),
              h.caption_channels, config.string(), dit.caption_channels);
  SV_CHECK_AS(InputError, h.clip_channels == dit.clip_channels,
              "{}: clip embeddings are {} wide, but the model ({}) takes clip_channels {}", header.string(),
              h.clip_channels, config.string(), dit.clip_channels);
}


void save_checkpoint(const CheckpointContents& state, const fs::path& run_dir, const MetricsLog& metrics) {
  fs::create_directories(run_dir / "checkpoints");
  const fs::path path = checkpoint_path(run_dir, state.progress.step);
  write_train_checkpoint(path, state);
  const TrainConfig& config = state.config;
  prune_checkpoints(run_dir, config.keep_checkpoints);  // the newest is the one just written
  write_loss_svg(run_dir / "loss.svg", metrics.points());
  log_info("checkpoint {}", path.string());
}

struct StepMetrics {
  double loss = 0, grad_norm = 0, lr = 0, step_s = 0, data_wait_s = 0, gflops = 0;
  int64_t batch_size = 0;
  bool clipped = false, skipped = false;
};

double step_flops(const DitConfig& dit, const SampleInfo& info, int64_t batch) {
  const int64_t p = dit.patch_size;
  const int64_t tokens = info.latent_shape[0] * (info.latent_shape[2] / p) * (info.latent_shape[3] / p);
  return 3.0 * DitModel::forward_flops(dit, batch, tokens, info.text_tokens, info.clip_tokens);
}

// What world rank 0 writes besides checkpoints.
struct RunWriters {
  MetricsLog metrics;
  TensorBoardWriter tensorboard;
};

// The loop over steps, with what it writes (world rank 0 writes; every rank
// computes).
class TrainingLoop {
 public:
  TrainingLoop(RunState& s, const Dataset& data, const Split& split, const TrainerOptions& options)
      : s_(s),
        run_dir_(options.run_dir),
        groups_(options.groups),
        runner_(s, data, split, options.groups),
        faults_(options.groups.world_rank),
        first_step_(s.progress.step) {
    if (groups_.world_size > 1 && options.abort_job) {
      watchdog_ = std::make_unique<StepWatchdog>(s.config.step_timeout, options.abort_job);
    }
    if (groups_.world_rank != 0) return;
    const fs::path& run_dir = run_dir_;
    writers_.reset(
        new RunWriters{MetricsLog(run_dir / "metrics.jsonl", s.progress.step), TensorBoardWriter(run_dir / "tensorboard")});
    if (s.config.sample_every > 0) samples_ = std::make_unique<SampleVideos>(s.config.model, sample_settings(data, split));
  }

  TrainOutcome run() {
    std::future<LoadedBatch> next = runner_.prefetch(s_.progress.step);
    // The starting point of the validation curve (in step 0's record).
    if (s_.config.validate_every > 0 && s_.progress.step == 0) val_loss_start_ = runner_.validation_loss();
    while (s_.progress.step < s_.config.steps) {
      if (watchdog_) watchdog_->begin(s_.progress.step);
      if (stop_agreed()) {
        next.wait();
        checkpoint();
        if (watchdog_) watchdog_->end();
        groups_.world->barrier();  // the checkpoint is complete before any rank exits 75
        log_info("stopping at step {} ({}): checkpoint written; run the same command to continue", s_.progress.step,
                 stop_requested() ? fmt::format("signal {}", stop_signal_number()) : std::string("another rank's signal"));
        return TrainOutcome::Preempted;
      }
      const int64_t step = s_.progress.step;
      const auto start = std::chrono::steady_clock::now();
      const LoadedBatch batch = next.get();
      StepMetrics m;
      m.data_wait_s = seconds_since(start);
      m.batch_size = batch.global_size;
      if (step + 1 < s_.config.steps) next = runner_.prefetch(step + 1);
      take_step(step, batch, m);
      m.step_s = seconds_since(start);
      report(step, m);
      if (s_.progress.step % s_.config.checkpoint_every == 0 || s_.progress.step == s_.config.steps) checkpoint();
      if (watchdog_) watchdog_->end();
      const bool samples_due = s_.config.sample_every > 0 &&
                               (s_.progress.step % s_.config.sample_every == 0 || s_.progress.step == s_.config.steps);
      if (samples_due) {
        // World rank 0 alone (refused under model parallel), outside the watched window; the
        // others wait here, not in the next step's collectives where their watchdogs run.
        if (samples_) write_samples();
        groups_.world->barrier();
      }
    }
    groups_.world->barrier();  // the last checkpoint is complete before any rank exits 0
    return TrainOutcome::Finished;
  }

 private:
  // Every rank gathers what tp splits; world rank 0 writes.
  void checkpoint() {
    const CheckpointContents state = full_state(s_, groups_);
    if (!writers_) return;
    writers_->tensorboard.flush();
    save_checkpoint(state, run_dir_, writers_->metrics);
  }

  // Whether any rank got a stop signal: every rank checks at the same step
  // boundary, so all stop at the same step.
  bool stop_agreed() {
    float flag = stop_requested() ? 1.0f : 0.0f;
    groups_.world->all_reduce_sum(&flag, 1);
    return flag > 0.0f;
  }

  // Gradients, then an AdamW step, or a skipped step when the loss or a
  // gradient is not finite (too many in a row end the run).
  void take_step(int64_t step, const LoadedBatch& batch, StepMetrics& m) {
    faults_.at_step("train", step);  // tests only (STEPVIDEO_INJECT_FAULTS)
    m.lr = s_.config.learning_rate(step);
    grads_.zero();
    m.loss = runner_.accumulate(step, batch, grads_);
    const std::vector<ParameterGradient> list = parameter_gradients(s_.model->registry(), grads_);
    m.grad_norm = s_.sharded ? s_.sharded->global_norm(runner_.own_chunks()) : global_grad_norm(list, *groups_.tp, *groups_.pp);
    m.skipped = !std::isfinite(m.loss) || !std::isfinite(m.grad_norm);
    if (m.skipped) {
      ++s_.progress.skipped_steps;
      ++s_.progress.bad_in_a_row;
      log_warn("step {}: loss {} / gradient norm {} not finite; step skipped ({} in a row)", step, m.loss, m.grad_norm,
               s_.progress.bad_in_a_row);
      if (s_.progress.bad_in_a_row >= s_.config.max_bad_steps) {
        const auto kept = list_checkpoints(run_dir_);
        throw InputError(fmt::format(
            "{} steps in a row had a non-finite loss or gradient (last: step {}); stopping. The last good checkpoint "
            "is kept: {}. Lower --lr, or check the dataset",
            s_.progress.bad_in_a_row, step, kept.empty() ? "none was written" : kept.front().second.string()));
      }
    } else {
      s_.progress.bad_in_a_row = 0;
      const auto lr = static_cast<float>(m.lr);
      m.clipped = s_.sharded ? s_.sharded->step(runner_.own_chunks(), lr, m.grad_norm).clipped
                             : s_.adamw->step(list, lr, m.grad_norm).clipped;
      update_ema(s_);
      const int64_t every = s_.config.reference_refresh_every;
      if (s_.reference && every > 0 && (step + 1) % every == 0) {
        refresh_reference(s_);
        if (groups_.world_rank == 0) log_info("step {}: the DPO reference is now the policy", step + 1);
      }
    }
    s_.progress.step = step + 1;
    s_.progress.epoch = runner_.epoch_of(std::min(s_.progress.step, s_.config.steps - 1));
  }

  // metrics.jsonl, TensorBoard and the progress line.
  void report(int64_t step, StepMetrics& m) {
    m.gflops = step_flops(s_.model->config(), runner_.first_sample_of_step(step), m.batch_size) / m.step_s / 1e9;
    auto finite_or_null = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
    json record{{"step", step},
                {"loss", finite_or_null(m.loss)},
                {"grad_norm", finite_or_null(m.grad_norm)},
                {"clipped", m.clipped},
                {"skipped", m.skipped},
                {"lr", m.lr},
                {"batch_size", m.batch_size},
                {"samples_per_s", static_cast<double>(m.batch_size) / m.step_s},
                {"step_s", m.step_s},
                {"data_wait_s", m.data_wait_s},
                {"gflops", m.gflops},
                {"epoch", runner_.epoch_of(step)}};
    if (s_.config.objective == Objective::Dpo) {
      const DpoMetrics& d = runner_.dpo_metrics();
      record["implicit_accuracy"] = d.implicit_accuracy;
      record["inside"] = finite_or_null(d.inside);
      record["model_mse_w"] = finite_or_null(d.model_mse_w);
      record["model_mse_l"] = finite_or_null(d.model_mse_l);
      record["ref_mse_w"] = finite_or_null(d.ref_mse_w);
      record["ref_mse_l"] = finite_or_null(d.ref_mse_l);
    }
    const double wall = unix_seconds();
    const int64_t done = s_.progress.step;
    if (s_.config.validate_every > 0 && (done % s_.config.validate_every == 0 || done == s_.config.steps)) {
      record["val_loss"] = runner_.validation_loss();
    }
    if (step == 0 && val_loss_start_) record["val_loss_start"] = *val_loss_start_;
    if (!writers_) return;
    TensorBoardWriter& tensorboard = writers_->tensorboard;
    if (record.contains("val_loss")) tensorboard.add_scalar("val/loss", record["val_loss"].get<double>(), step, wall);
    writers_->metrics.append(record);
    if (std::isfinite(m.loss)) tensorboard.add_scalar("train/loss", m.loss, step, wall);
    tensorboard.add_scalar("train/lr", m.lr, step, wall);
    if (std::isfinite(m.grad_norm)) tensorboard.add_scalar("train/grad_norm", m.grad_norm, step, wall);
    tensorboard.add_scalar("train/samples_per_s", record["samples_per_s"].get<double>(), step, wall);
    if (done % s_.config.log_every == 0 || done == s_.config.steps) {
      const double per_step = seconds_since(run_start_) / static_cast<double>(done - first_step_);
      log_info("step {}/{}  loss {:.5f}  grad_norm {:.4f}  lr {:.3g}  {:.2f} s/step  ETA {:.0f} s", done,
               s_.config.steps, m.loss, m.grad_norm, m.lr, per_step, per_step * static_cast<double>(s_.config.steps - done));
    }
  }

  SampleSettings sample_settings(const Dataset& data, const Split& split) const {
    const TrainConfig& c = s_.config;
    SampleSettings settings;
    if (c.sample_prompts.empty()) {
      for (size_t i = 0; i < std::min<size_t>(2, split.train.size()); ++i) {
        settings.prompts.push_back(data.samples()[static_cast<size_t>(split.train[i])].caption);
      }
    } else {
      std::ifstream in(c.sample_prompts);
      SV_CHECK_AS(InputError, in.good(), "{}: cannot read the sample prompts", c.sample_prompts.string());
      for (std::string line; std::getline(in, line);) {
        if (line.find_first_not_of(" \t\r") != std::string::npos) settings.prompts.push_back(line);
      }
      SV_CHECK_AS(InputError, !settings.prompts.empty(), "{}: no sample prompts", c.sample_prompts.string());
    }
    settings.latent_shape = data.samples()[static_cast<size_t>(split.train.front())].latent_shape;
    settings.sampling.steps = c.sample_steps;
    settings.sampling.cfg_scale = static_cast<float>(c.sample_cfg_scale);
    settings.sampling.time_shift = static_cast<float>(c.sample_time_shift);
    settings.seed = c.seed;
    return settings;
  }

  // A sample that cannot be made (e.g. NaN frames from a diverging run) is
  // reported, not fatal: training goes on.
  void write_samples() {
    const fs::path dir = run_dir_ / "samples" / fmt::format("step-{}", s_.progress.step);
    try {
      samples_->write(*s_.model, dir);
    } catch (const InputError& e) {
      log_warn("samples at step {}: {}", s_.progress.step, e.what());
    }
  }

  RunState& s_;
  fs::path run_dir_;
  const ParallelGroups& groups_;
  StepRunner runner_;
  std::unique_ptr<RunWriters> writers_;  // world rank 0 only
  jobs::FaultInjector faults_;
  std::unique_ptr<StepWatchdog> watchdog_;  // multi-rank runs
  Gradients grads_;
  int64_t first_step_;
  std::chrono::steady_clock::time_point run_start_ = std::chrono::steady_clock::now();
  std::optional<double> val_loss_start_;
  std::unique_ptr<SampleVideos> samples_;
};

}  // namespace

void check_batch_splits(const TrainConfig& c, int dp) {
  if (c.tokens_per_batch > 0) return;  // every bucket's size is a multiple of dp; micro-batches: make_plan
  SV_CHECK_AS(ConfigError, c.batch_size % dp == 0,
              "--batch-size {} does not split over {} data-parallel ranks: use a multiple of {}", c.batch_size, dp, dp);
  const int64_t local = c.batch_size / dp;
  SV_CHECK_AS(ConfigError, c.micro_batch_size == 0 || local % c.micro_batch_size == 0,
              "--micro-batch-size {} does not divide the {} samples of the global batch each of the {} data-parallel "
              "ranks takes",
              c.micro_batch_size, local, dp);
}

TrainOutcome train(const TrainerOptions& options) {
  options.config.validate();
  check_batch_splits(options.config, options.groups.dp_size);
  const fs::path& run_dir = options.run_dir;
  // Everything that can be checked before the run directory is touched is.
  const Dataset data = Dataset::open(options.config.data);
  const bool dpo = options.config.objective == Objective::Dpo;
  SV_CHECK_AS(InputError, data.header().pairs == dpo, "{}: {}", options.config.data.string(),
              dpo ? "--objective dpo needs a dataset of preference pairs (encode-dataset of a manifest of "
                    "{\"prompt\", \"chosen\", \"rejected\"} lines); this one holds single clips"
                  : "a dataset of preference pairs: train it with --objective dpo");
  check_model_directory(options.config.model);
  check_dataset_fits(data, DitConfig::from_file(options.config.model / "transformer" / "config.json"),
                     options.config.model);
  const Split split = split_samples(data, options.config.validation_samples);
  StepRunner::make_plan(data, split, options.config, options.groups.dp_size);  // refuses what cannot form
  const ParallelGroups& groups = options.groups;
  const bool writer = groups.world_rank == 0;
  std::optional<jobs::RunLock> lock;
  if (writer) {
    fs::create_directories(run_dir);
    lock.emplace(run_dir / "train.lock");
    remove_temporaries(run_dir);
  }
  groups.world->barrier();
  RunState s = start_or_resume(options);
  if (s.progress.step >= s.config.steps) {
    log_info("{}: already trained to step {} (--steps {}); nothing to do", run_dir.string(), s.progress.step,
             s.config.steps);
    return TrainOutcome::Finished;
  }
  if (s.config.decay_steps == 0) s.config.decay_steps = s.config.steps;
  if (writer) io::write_text_atomic(run_dir / "config.json", s.config.to_json().dump(2) + "\n");
  if (s.config.tokens_per_batch > 0) {
    log_info("training {} samples ({} held out) for steps {}..{}, batches of up to {} video tokens per shape over {} "
             "dp rank(s) (sizes at --verbose)",
             split.train.size(), split.validation.size(), s.progress.step, s.config.steps, s.config.tokens_per_batch,
             groups.dp_size);
  } else {
    const int64_t local = s.config.batch_size / groups.dp_size;
    log_info("training {} samples ({} held out) for steps {}..{}, batch {} ({} per dp rank x {}, micro-batch {})",
             split.train.size(), split.validation.size(), s.progress.step, s.config.steps, s.config.batch_size, local,
             groups.dp_size, StepRunner::local_micro_batch(s.config, local, groups.pp_size()));
  }
  const LargeBlockReuse reuse;  // every step allocates the same activations
  return TrainingLoop(s, data, split, options).run();
}

}  // namespace sv::train
