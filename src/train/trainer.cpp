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
#include "train/batch_plan.h"
#include "train/dataset.h"
#include "train/dit_step.h"
#include "train/dpo.h"
#include "train/gradient_reduction.h"
#include "train/pipeline_step.h"
#include "train/sharded_adamw.h"
#include "train/metrics_log.h"
#include "train/sample_videos.h"
#include "train/step_watchdog.h"
#include "train/tensorboard_writer.h"
#include "train/train_checkpoint.h"

namespace sv::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The step numbers reserved for draws that must not change during a run
// (validation noise and t): far above any real step.
constexpr int64_t kValidationStep = 0xFFFFFFFF;
constexpr int64_t kValidationDraws = 4;

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Samples split into training and held-out ones: the held-out ones are the
// first `count` by SHA-256 of their id (independent of the seed, so a run's
// split never moves).
struct Split {
  std::vector<int64_t> train, validation;
};

Split split_samples(const Dataset& data, int64_t count) {
  std::vector<std::pair<std::string, int64_t>> keyed;
  for (size_t i = 0; i < data.samples().size(); ++i) {
    keyed.emplace_back(Sha256::hex(data.samples()[i].id), static_cast<int64_t>(i));
  }
  std::sort(keyed.begin(), keyed.end());
  Split s;
  for (size_t i = 0; i < keyed.size(); ++i) {
    (static_cast<int64_t>(i) < count ? s.validation : s.train).push_back(keyed[i].second);
  }
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.validation.begin(), s.validation.end());
  SV_CHECK_AS(InputError, !s.train.empty(), "{}: --validation-samples {} leaves no sample to train on ({} in all)",
              data.dir().string(), count, keyed.size());
  return s;
}

// Half-written files of a killed run (checkpoints, metrics, loss.svg): only
// ever our own temporaries, recognised by their prefix.
void remove_temporaries(const fs::path& run_dir) {
  for (const fs::path& dir : {run_dir, run_dir / "checkpoints"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().filename().string().starts_with(io::kTemporaryPrefix)) {
        log_info("removing {}, left by an interrupted write", entry.path().string());
        fs::remove(entry.path(), ec);
      }
    }
  }
}

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

Tensor stack(const std::vector<Tensor>& rows) {
  Shape shape = rows.front().shape();
  std::vector<int64_t> dims{static_cast<int64_t>(rows.size())};
  for (int i = 0; i < shape.rank(); ++i) dims.push_back(shape[i]);
  Tensor out = Tensor::empty(Shape(dims), DType::F32);
  for (size_t i = 0; i < rows.size(); ++i) out.select(0, static_cast<int64_t>(i)).copy_from(rows[i]);
  return out;
}

// Everything the run changes, restored from a checkpoint or fresh.
struct RunState {
  std::unique_ptr<DitModel> model;
  // One of the two: every moment here, or (--zero 1) this rank's share.
  std::unique_ptr<AdamW> adamw;
  std::unique_ptr<ShardedAdamW> sharded;
  std::unique_ptr<DitModel> reference;  // Video-DPO's frozen reference, laid out as the policy
  std::map<std::string, Tensor> ema;
  TrainProgress progress;
  TrainConfig config;
};

// The newest checkpoint that reads completely; a broken one is reported by
// name and the previous one is tried.
std::optional<CheckpointContents> newest_checkpoint(const fs::path& run_dir) {
  for (const auto& [step, path] : list_checkpoints(run_dir)) {
    try {
      return read_train_checkpoint(path);
    } catch (const Error& e) {
      log_warn("{}: cannot be used ({}); trying the previous checkpoint", path.string(), e.what());
    }
  }
  return std::nullopt;
}

// World rank 0 chooses the checkpoint and the others read that one, so every
// rank starts from the same step even if a file breaks meanwhile.
std::optional<CheckpointContents> agreed_checkpoint(const fs::path& run_dir, Communicator& world) {
  std::optional<CheckpointContents> ckpt;
  int64_t step = -1;
  if (world.rank() == 0) {
    ckpt = newest_checkpoint(run_dir);
    if (ckpt) step = ckpt->progress.step;
  }
  world.broadcast_bytes(&step, sizeof step, 0);
  if (world.rank() != 0 && step >= 0) ckpt = read_train_checkpoint(checkpoint_path(run_dir, step));
  return ckpt;
}

// The reference of a resumed DPO run: the checkpoint's when the run refreshes
// it from the policy, else the reference model directory's.
void load_reference(RunState& s, CheckpointContents& ckpt, const TrainerOptions& options) {
  s.reference = load_dit(s.config.reference, options.groups);
  if (ckpt.reference.empty()) return;
  CheckpointContents refreshed;
  refreshed.weights = std::move(ckpt.reference);
  load_checkpoint_weights(s.reference->registry(), refreshed, checkpoint_path(options.run_dir, ckpt.progress.step));
}

// Video-DPO: the reference takes the policy's weights (the same layout holds both).
void refresh_reference(RunState& s) {
  const auto& policy = s.model->registry().parameters();
  const auto& reference = s.reference->registry().parameters();
  for (size_t i = 0; i < policy.size(); ++i) {
    if (policy[i]->local) reference[i]->value.copy_from(policy[i]->value);
  }
}

int64_t grad_bucket_bytes(const TrainConfig& c) { return static_cast<int64_t>(c.grad_bucket_mb * 1024 * 1024); }

RunState start_or_resume(const TrainerOptions& options) {
  RunState s;
  s.config = options.config;
  std::optional<CheckpointContents> ckpt = agreed_checkpoint(options.run_dir, *options.groups.world);
  if (ckpt) {
    // --decay-steps 0 means "the first start's --steps", which the checkpoint recorded.
    if (s.config.decay_steps == 0) s.config.decay_steps = ckpt->config.decay_steps;
    const std::vector<std::string> changed = s.config.computation_differences(ckpt->config);
    SV_CHECK_AS(ConfigError, changed.empty(),
                "{}: this run was started with other settings; only run length and logging may change on resume. "
                "Changed: {}. Use another --out for a new run",
                options.run_dir.string(), fmt::join(changed, ", "));
    if (!options.steps_given) s.config.steps = ckpt->config.steps;
    s.progress = ckpt->progress;
  }
  s.model = load_dit(s.config.model, options.groups);
  const ParallelGroups& groups = options.groups;
  if (s.config.zero_stage == 1 && groups.dp_sp->size() > 1) {
    s.sharded = std::make_unique<ShardedAdamW>(
        s.config.adamw, DitGradientReduction::plan(s.model->registry(), grad_bucket_bytes(s.config), groups.dp_sp->size()),
        groups.dp_sp, groups.tp, groups.pp);
    if (groups.world_rank == 0) {
      log_info("ZeRO-1: AdamW moments split over {} ranks (dp x sp): {:.1f} MiB per rank", groups.dp_sp->size(),
               static_cast<double>(s.sharded->moment_bytes()) / (1 << 20));
    }
  } else {
    if (s.config.zero_stage == 1 && groups.world_rank == 0) {
      log_info("--zero 1 with a single data-parallel rank: nothing to split, every moment stays here");
    }
    s.adamw = std::make_unique<AdamW>(s.config.adamw);
  }
  if (ckpt) {
    load_checkpoint_weights(s.model->registry(), *ckpt, checkpoint_path(options.run_dir, ckpt->progress.step));
    auto moments = local_moments(s.model->registry(), std::move(ckpt->moments));
    if (s.sharded) {
      s.sharded->restore(ckpt->adamw_steps, moments);
    } else {
      s.adamw->restore(ckpt->adamw_steps, std::move(moments));
    }
    s.ema = local_tensors(s.model->registry(), std::move(ckpt->ema));
    if (s.config.objective == Objective::Dpo) load_reference(s, *ckpt, options);
    log_info("resuming {} at step {} of {}", options.run_dir.string(), s.progress.step, s.config.steps);
  } else {
    if (s.config.ema_decay > 0) {
      for (const auto& p : s.model->registry().parameters()) {
        if (p->local) s.ema[p->name] = p->value.clone();
      }
    }
    if (s.config.objective == Objective::Dpo) s.reference = load_dit(s.config.reference, options.groups);
  }
  return s;
}

// Video-DPO's per-step figures: means over the global batch's pairs.
struct DpoMetrics {
  double implicit_accuracy = 0, inside = 0, model_mse_w = 0, model_mse_l = 0, ref_mse_w = 0, ref_mse_l = 0;
};

// One global batch, loaded (on the prefetch thread) ahead of its step.
struct LoadedBatch {
  int64_t global_size = 0;  // samples of the step's global batch (this rank holds its dp share)
  std::vector<TrainingSample> samples;
  double load_s = 0.0;
};

// The samples of one rank: its dp slice of each global batch, in micro-batches.
class StepRunner {
 public:
  StepRunner(RunState& state, const Dataset& data, const Split& split, const ParallelGroups& groups)
      : s_(state),
        data_(data),
        split_(split),
        groups_(groups),
        plan_(make_plan(data, split, state.config, groups.dp_size)),
        local_batch_(state.config.batch_size / groups.dp_size),
        micro_(local_micro_batch(state.config, local_batch_, groups.pp_size())) {
    if (groups.dp_sp->size() > 1) {
      reduction_ = std::make_unique<DitGradientReduction>(
          s_.model->registry(), groups.dp_sp, grad_bucket_bytes(state.config),
          state.sharded ? DitGradientReduction::Result::OwnChunks : DitGradientReduction::Result::Sums);
    }
  }

  // Samples per forward/backward on each rank: --micro-batch-size, or the
  // rank's whole share of the global batch (one sample at a time under pp,
  // so the pipeline has micro-batches to overlap).
  static int64_t local_micro_batch(const TrainConfig& c, int64_t local_batch, int pp) {
    if (c.micro_batch_size > 0) return c.micro_batch_size;
    return pp > 1 ? 1 : local_batch;
  }

  // The global batch of a shape bucket: --batch-size, or with
  // --tokens-per-batch as many samples as fit the token budget, a multiple
  // of dp (0: none fit).
  static int64_t bucket_batch(const SampleInfo& s, const TrainConfig& c, int dp, int64_t patch) {
    if (c.tokens_per_batch <= 0) return c.batch_size;
    const int64_t tokens = s.latent_shape[0] * (s.latent_shape[2] / patch) * (s.latent_shape[3] / patch);
    const int64_t n = c.tokens_per_batch / tokens;
    return n - n % dp;
  }

  // The plan over the training split; InputError when no batch can ever
  // form, ConfigError when --micro-batch-size does not divide some bucket's
  // share of a batch.
  static BatchPlan make_plan(const Dataset& data, const Split& split, const TrainConfig& c, int dp) {
    const int64_t patch = DitConfig::from_file(c.model / "transformer" / "config.json").patch_size;
    std::map<std::string, int64_t> sizes;
    for (const int64_t i : split.train) {
      const SampleInfo& s = data.samples()[static_cast<size_t>(i)];
      sizes[s.bucket()] = bucket_batch(s, c, dp, patch);
    }
    for (const auto& [bucket, size] : sizes) {
      SV_CHECK_AS(ConfigError, size == 0 || c.micro_batch_size == 0 || (size / dp) % c.micro_batch_size == 0,
                  "--micro-batch-size {} does not divide the {} samples each of the {} data-parallel ranks takes of "
                  "a batch of shape {}",
                  c.micro_batch_size, size / dp, dp, bucket);
      if (c.tokens_per_batch > 0) {
        log_debug("--tokens-per-batch {}: shape {} trains in batches of {}", c.tokens_per_batch, bucket, size);
      }
    }
    return BatchPlan(buckets(data, split), [&sizes](const std::string& b) { return sizes.at(b); }, c.seed);
  }

  std::future<LoadedBatch> prefetch(int64_t step) {
    const std::vector<int64_t> global = plan_.batch(step);
    const auto global_size = static_cast<int64_t>(global.size());
    const int64_t local = global_size / groups_.dp_size, first = groups_.coords.dp * local;
    std::vector<int64_t> ids;
    for (int64_t k = first; k < first + local; ++k) {
      ids.push_back(split_.train[static_cast<size_t>(global[static_cast<size_t>(k)])]);
    }
    return std::async(std::launch::async, [this, ids, global_size] {
      const auto start = std::chrono::steady_clock::now();
      LoadedBatch b;
      b.global_size = global_size;
      for (const int64_t i : ids) b.samples.push_back(data_.load(i));
      b.load_s = seconds_since(start);
      return b;
    });
  }
  int64_t epoch_of(int64_t step) { return plan_.epoch_of(step); }

  // Forward, loss and backward over this rank's micro-batches of one step;
  // leaves the global batch's gradients in grads (summed over the dp group),
  // or under ZeRO-1 this rank's chunks of them in own_chunks(), and returns
  // the global batch's loss.
  double accumulate(int64_t step, const LoadedBatch& batch, Gradients& grads) {
    const TrainConfig& c = s_.config;
    // Under --tokens-per-batch each step's batch has its shape's size.
    global_batch_ = batch.global_size;
    local_batch_ = global_batch_ / groups_.dp_size;
    micro_ = local_micro_batch(c, local_batch_, groups_.pp_size());
    const double share = static_cast<double>(micro_) / static_cast<double>(global_batch_);
    double loss = 0.0;
    if (c.objective == Objective::Dpo) {
      loss = preference_pairs(step, batch, grads, share);
    } else if (groups_.pp_size() > 1) {
      loss = pipelined(step, batch, grads, share);
    } else {
      loss = one_stage(step, batch, grads, share);
    }
    if (reduction_) {
      reduction_->finish(grads);
      if (!reported_buckets_ && groups_.world_rank == 0) {
        const auto counts = reduction_->last_step();
        log_info("gradients summed over {} ranks (dp x sp) in {} buckets, {} of them sent during the backward",
                 groups_.dp_sp->size(), counts.buckets, counts.early);
        reported_buckets_ = true;
      }
    }
    // The last stage has the loss; the dp ranks each have their samples'.
    return sum_across(*groups_.dp, sum_across(*groups_.pp, loss));
  }

  // The whole model here: the micro-batches one after another.
  double one_stage(int64_t step, const LoadedBatch& batch, Gradients& grads, double share) {
    const TrainConfig& c = s_.config;
    double loss = 0.0;
    for (int64_t first = 0; first < local_batch_; first += micro_) {
      const DitBatch b = assemble(step, batch, first, micro_, first_position());
      DitTrainingOptions options{c.activation_checkpointing, {}};
      // The last micro-batch completes each block's gradients: reduce them at once.
      if (reduction_ && first + micro_ == local_batch_) {
        options.block_gradients_done = [&](int64_t block) { reduction_->block_done(grads, block); };
      }
      loss += share * dit_flow_matching_step(*s_.model, b, options, grads, share).loss;
    }
    return loss;
  }

  // Video-DPO on this rank's pairs; dpo_ holds the step's means over the
  // global batch (summed over the dp ranks).
  double preference_pairs(int64_t step, const LoadedBatch& batch, Gradients& grads, double share) {
    const TrainConfig& c = s_.config;
    double loss = 0.0;
    std::vector<DpoStepResult> results;
    if (groups_.pp_size() > 1) {
      loss = pipelined_pairs(step, batch, grads, share, results);
    } else {
      for (int64_t first = 0; first < local_batch_; first += micro_) {
        const DpoBatch b = assemble_pairs(step, batch, first, micro_);
        DitTrainingOptions options{c.activation_checkpointing, {}};
        if (reduction_ && first + micro_ == local_batch_) {
          options.block_gradients_done = [&](int64_t block) { reduction_->block_done(grads, block); };
        }
        results.push_back(dit_dpo_step(*s_.model, *s_.reference, b, c.dpo_beta, options, grads, share));
        loss += share * results.back().dpo.loss;
      }
    }
    double sums[6] = {0, 0, 0, 0, 0, 0};
    for (const DpoStepResult& r : results) {
      for (size_t i = 0; i < r.dpo.inside.size(); ++i) {
        sums[0] += r.dpo.inside[i] > 0 ? 1.0 : 0.0;
        sums[1] += r.dpo.inside[i];
        sums[2] += r.model_mse_w[i];
        sums[3] += r.model_mse_l[i];
        sums[4] += r.ref_mse_w[i];
        sums[5] += r.ref_mse_l[i];
      }
    }
    sum_across(*groups_.pp, sums);  // under pp the last stage has them
    sum_across(*groups_.dp, sums);
    const auto n = static_cast<double>(global_batch_);
    dpo_ = DpoMetrics{sums[0] / n, sums[1] / n, sums[2] / n, sums[3] / n, sums[4] / n, sums[5] / n};
    return loss;
  }

  // Video-DPO through this rank's pipeline stage: the reference's errors
  // first (its forward pipelines over the stages too), then the policy's
  // 1F1B step with the DPO loss on the last stage, whose results it returns.
  double pipelined_pairs(int64_t step, const LoadedBatch& batch, Gradients& grads, double share,
                         std::vector<DpoStepResult>& results) {
    const TrainConfig& c = s_.config;
    std::vector<DpoInputs> pairs;
    std::vector<DitInputs> inputs;
    std::vector<std::vector<double>> reference;
    for (int64_t first = 0; first < local_batch_; first += micro_) {
      pairs.push_back(dpo_inputs(assemble_pairs(step, batch, first, micro_)));
      inputs.push_back(pairs.back().inputs);
      reference.push_back(per_sample_mse(s_.reference->forward(pairs.back().inputs), pairs.back().target));
    }
    const StageLoss dpo = [&](int64_t j, const Tensor& prediction) {
      const auto k = static_cast<size_t>(j);
      LossAndGradient l;
      results.push_back(dpo_from_prediction(prediction, pairs[k].target, reference[k], c.dpo_beta, share, l.gradient));
      l.loss = share * results.back().dpo.loss;
      return l;
    };
    DitTrainingOptions options{c.activation_checkpointing, {}};
    if (reduction_) options.block_gradients_done = [&](int64_t block) { reduction_->block_done(grads, block); };
    return pipeline_step(*s_.model, inputs, dpo, options, grads, *groups_.pp);
  }

  // Pairs [first, first + count) of a step's batch: both clips share the
  // noise and t keyed by (seed, step, position in the global batch); no
  // text dropout (both clips answer the same prompt).
  DpoBatch assemble_pairs(int64_t step, const LoadedBatch& batch, int64_t first, int64_t count) const {
    const DitBatch chosen = assemble(step, batch, first, count, first_position(), /*dropout=*/false);
    std::vector<Tensor> rejected;
    for (int64_t k = first; k < first + count; ++k) {
      rejected.push_back(batch.samples[static_cast<size_t>(k)].latents_rejected);
    }
    return DpoBatch{chosen.x0,
                    stack(rejected),
                    chosen.noise,
                    chosen.t,
                    chosen.encoder_hidden_states,
                    chosen.encoder_hidden_states_2,
                    chosen.encoder_attention_mask};
  }
  const DpoMetrics& dpo_metrics() const { return dpo_; }

  // This rank's pipeline stage: the micro-batches in the 1F1B order.
  double pipelined(int64_t step, const LoadedBatch& batch, Gradients& grads, double share) {
    std::vector<DitBatch> micro;
    for (int64_t first = 0; first < local_batch_; first += micro_) {
      micro.push_back(assemble(step, batch, first, micro_, first_position()));
    }
    DitTrainingOptions options{s_.config.activation_checkpointing, {}};
    if (reduction_) options.block_gradients_done = [&](int64_t block) { reduction_->block_done(grads, block); };
    return pipeline_step(*s_.model, micro, share, options, grads, *groups_.pp);
  }

  // The loss at fixed draws (forward only): kValidationDraws (noise, t) per
  // sample of the held-out split, or, without one, of the first training
  // samples (then it measures how well the training data is fitted).
  // The dp ranks share the samples (j on rank j mod dp).
  double validation_loss() {
    std::vector<int64_t> ids = split_.validation;
    if (ids.empty()) ids.assign(split_.train.begin(), split_.train.begin() + std::min<size_t>(split_.train.size(), 8));
    double sum = 0.0;
    for (size_t j = static_cast<size_t>(groups_.coords.dp); j < ids.size(); j += static_cast<size_t>(groups_.dp_size)) {
      const LoadedBatch one{kValidationDraws, std::vector<TrainingSample>(kValidationDraws, data_.load(ids[j])), 0.0};
      const DitBatch b = assemble(kValidationStep, one, 0, kValidationDraws, static_cast<int64_t>(j) * kValidationDraws,
                                  /*dropout=*/false);
      const FlowMatchingInputs fm = flow_matching_inputs(b.x0, b.noise, b.t);
      DitInputs in{fm.x_t, b.t, b.encoder_hidden_states, b.encoder_hidden_states_2, b.encoder_attention_mask};
      sum += mse_loss(s_.model->forward(in), fm.target).loss;
    }
    return sum_across(*groups_.dp, sum) / static_cast<double>(ids.size());
  }

  std::vector<std::vector<float>>& own_chunks() { return reduction_->own_chunks(); }

  const SampleInfo& first_sample_of_step(int64_t step) {
    return data_.samples()[static_cast<size_t>(split_.train[static_cast<size_t>(plan_.batch(step).front())])];
  }

 private:
  int64_t first_position() const { return static_cast<int64_t>(groups_.coords.dp) * local_batch_; }

  static std::vector<std::string> buckets(const Dataset& data, const Split& split) {
    std::vector<std::string> b;
    for (const int64_t i : split.train) b.push_back(data.samples()[static_cast<size_t>(i)].bucket());
    return b;
  }

  // Rows [first, first + count) of a step's batch, with their draws keyed by
  // (seed, step, position in the global batch).
  DitBatch assemble(int64_t step, const LoadedBatch& batch, int64_t first, int64_t count,
                    int64_t position_offset = 0, bool dropout = true) const {
    const TrainConfig& c = s_.config;
    std::vector<Tensor> x0, noise, y, clip, mask;
    std::vector<float> t;
    for (int64_t k = first; k < first + count; ++k) {
      const TrainingSample& sample = batch.samples[static_cast<size_t>(k)];
      const int64_t position = position_offset + k;
      x0.push_back(sample.latents);
      noise.push_back(training_noise(sample.latents.shape(), c.seed, step, position));
      t.push_back(c.time.sample(c.seed, step, position));
      const bool drop = dropout && drop_text(c.seed, step, position, c.text_dropout);
      const TrainingSample& text = drop ? data_.empty_text() : sample;
      y.push_back(text.y);
      clip.push_back(text.clip);
      mask.push_back(text.mask);
    }
    DitBatch b;
    b.x0 = stack(x0);
    b.noise = stack(noise);
    b.t = Tensor::from_vector(t, Shape{count});
    b.encoder_hidden_states = stack(y);
    if (data_.header().clip_channels > 0) b.encoder_hidden_states_2 = stack(clip);
    b.encoder_attention_mask = stack(mask);
    return b;
  }

  RunState& s_;
  const Dataset& data_;
  const Split& split_;
  const ParallelGroups& groups_;
  BatchPlan plan_;
  int64_t local_batch_, micro_;
  int64_t global_batch_ = 0;  // of the step being taken
  std::unique_ptr<DitGradientReduction> reduction_;  // with dp x sp > 1
  bool reported_buckets_ = false;
  DpoMetrics dpo_;
};

void update_ema(RunState& s) {
  if (s.config.ema_decay <= 0) return;
  const auto d = static_cast<float>(s.config.ema_decay);
  for (const auto& p : s.model->registry().parameters()) {
    if (!p->local) continue;  // another pipeline stage's
    Tensor& e = s.ema.at(p->name);
    const float* w = p->value.data<float>();
    float* ep = e.data<float>();
    for (int64_t i = 0; i < e.numel(); ++i) ep[i] = d * ep[i] + (1.0f - d) * w[i];
  }
}

// Brings a whole tensor from the pipeline stage that holds it to the first
// stage, where world rank 0 writes the checkpoint. Only the pp group of
// world rank 0 (tp, sp, dp and cfg coordinates 0) carries it.
class ToFirstStage {
 public:
  explicit ToFirstStage(const ParallelGroups& g)
      : g_(g), carries_(g.pp_size() > 1 && g.coords.tp == 0 && g.coords.sp == 0 && g.coords.dp == 0 && g.coords.cfg == 0) {}

  // full: the whole tensor where this rank holds it; owner: the stage that
  // does (-1: every stage). Returns it where it is (now) held.
  Tensor operator()(Tensor full, int owner, const Shape& shape) const {
    if (owner < 0 || owner == 0 || !carries_) return full;
    constexpr int kTag = 72;
    if (g_.pp_rank() == owner) {
      g_.pp->send(full.data<float>(), full.numel(), 0, kTag);
      return Tensor();
    }
    if (g_.pp_rank() != 0) return Tensor();
    Tensor received = Tensor::empty(shape, DType::F32);
    g_.pp->recv(received.data<float>(), received.numel(), owner, kTag);
    return received;
  }

 private:
  const ParallelGroups& g_;
  bool carries_;
};

// The run's state as full tensors: parameters split over tp are gathered
// (every rank takes part), other pipeline stages' blocks are brought to the
// first stage; only world rank 0, which then holds everything, writes it.
CheckpointContents full_state(const RunState& s, const ParallelGroups& g) {
  CheckpointContents c;
  c.progress = s.progress;
  c.config = s.config;
  c.adamw_steps = s.sharded ? s.sharded->steps_taken() : s.adamw->steps_taken();
  // ZeRO-1: the shares of the moments are gathered first (every rank of dp x sp takes part).
  const auto gathered = s.sharded ? s.sharded->gather_moments() : std::map<std::string, AdamWMoments, std::less<>>{};
  const ToFirstStage to_first_stage(g);
  Communicator& tp = *g.tp;
  for (const auto& p : s.model->registry().parameters()) {
    const int owner = s.model->stage_holding(*p);
    auto whole = [&](const Tensor* local) {
      return to_first_stage(local ? gather_shards(*local, p->shard, tp) : Tensor(), owner, p->full_shape);
    };
    auto keep = [](auto& into, const std::string& name, auto value) {
      if constexpr (std::is_same_v<decltype(value), Tensor>) {
        if (value.defined()) into[name] = std::move(value);
      } else if (value.exp_avg.defined()) {
        into[name] = std::move(value);
      }
    };
    SV_CHECK(!p->local || p->value.defined(), "checkpoint: {} is not loaded", p->name);
    keep(c.weights, p->name, whole(p->local ? &p->value : nullptr));
    const auto it = gathered.find(p->name);
    const AdamWMoments* m = !p->local  ? nullptr
                            : s.sharded ? (it == gathered.end() ? nullptr : &it->second)
                                        : s.adamw->moments(p->name);
    // Under pp every rank must take part in each transfer: every parameter
    // has moments once a step was taken (each stage's gradients cover all of
    // its parameters).
    const bool moments_expected = g.pp_size() > 1 ? c.adamw_steps > 0 : m != nullptr;
    if (moments_expected) {
      SV_CHECK(!p->local || m, "checkpoint: no AdamW moments for {} after {} steps", p->name, c.adamw_steps);
      keep(c.moments, p->name,
           AdamWMoments{whole(m ? &m->exp_avg : nullptr), whole(m ? &m->exp_avg_sq : nullptr)});
    }
    if (s.config.ema_decay > 0) {
      const auto e = s.ema.find(p->name);
      keep(c.ema, p->name, whole(e == s.ema.end() ? nullptr : &e->second));
    }
  }
  // A DPO reference that changes with the run is part of its state.
  if (s.reference && s.config.reference_refresh_every > 0) {
    for (const auto& p : s.reference->registry().parameters()) {
      const int owner = s.reference->stage_holding(*p);
      const Tensor local = p->local ? gather_shards(p->value, p->shard, tp) : Tensor();
      const Tensor full = to_first_stage(local, owner, p->full_shape);
      if (full.defined()) c.reference[p->name] = full;
    }
  }
  return c;
}

void save_checkpoint(const CheckpointContents& state, const fs::path& run_dir, const MetricsLog& metrics) {
  fs::create_directories(run_dir / "checkpoints");
  const fs::path path = checkpoint_path(run_dir, state.progress.step);
  write_train_checkpoint(path, state);
  const TrainConfig& config = state.config;
  // Keep the newest keep_checkpoints; never the one just written.
  const auto all = list_checkpoints(run_dir);
  for (size_t i = static_cast<size_t>(config.keep_checkpoints); i < all.size(); ++i) {
    std::error_code ec;
    fs::remove(all[i].second, ec);
  }
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
    const double wall = wall_seconds();
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
