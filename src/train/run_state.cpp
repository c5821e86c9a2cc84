#include "train/run_state.h"

#include <type_traits>

#include "core/error.h"
#include "core/log.h"
#include "layers/shard_tensors.h"
#include "models/model_directory.h"
#include "train/gradient_reduction.h"

namespace sv::train {

namespace fs = std::filesystem;

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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
    // its parameters). Under ZeRO-1 only the dp x sp group's rank 0 has them
    // (and so do its tp and pp peers, which share its dp and sp coordinates).
    const bool holds_moments = !s.sharded || (g.coords.dp == 0 && g.coords.sp == 0);
    const bool moments_expected = holds_moments && (g.pp_size() > 1 ? c.adamw_steps > 0 : m != nullptr);
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

}  // namespace sv::train
