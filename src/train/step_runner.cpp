#include "train/step_runner.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "core/elapsed.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "train/pipeline_step.h"

namespace sv::train {

namespace {

// The step numbers reserved for draws that must not change during a run
// (validation noise and t): far above any real step.
constexpr int64_t kValidationStep = 0xFFFFFFFF;
constexpr int64_t kValidationDraws = 4;

Tensor stack(const std::vector<Tensor>& rows) {
  Shape shape = rows.front().shape();
  std::vector<int64_t> dims{static_cast<int64_t>(rows.size())};
  for (int i = 0; i < shape.rank(); ++i) dims.push_back(shape[i]);
  Tensor out = Tensor::empty(Shape(dims), DType::F32);
  for (size_t i = 0; i < rows.size(); ++i) out.select(0, static_cast<int64_t>(i)).copy_from(rows[i]);
  return out;
}

// The global batch of a shape bucket: --batch-size, or with
// --tokens-per-batch as many samples as fit the token budget, a multiple
// of dp (0: none fit).
int64_t bucket_batch(const SampleInfo& s, const TrainConfig& c, int dp, int64_t patch) {
  if (c.tokens_per_batch <= 0) return c.batch_size;
  const int64_t tokens = s.latent_shape[0] * (s.latent_shape[2] / patch) * (s.latent_shape[3] / patch);
  SV_CHECK_AS(InputError, tokens > 0, "sample '{}': latents {} hold no {}x{} patch", s.id, s.latent_shape.str(),
              patch, patch);
  const int64_t n = c.tokens_per_batch / tokens;
  return n - n % dp;
}

std::vector<std::string> buckets(const Dataset& data, const Split& split) {
  std::vector<std::string> b;
  for (const int64_t i : split.train) b.push_back(data.samples()[static_cast<size_t>(i)].bucket());
  return b;
}

}  // namespace

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

StepRunner::StepRunner(RunState& state, const Dataset& data, const Split& split, const ParallelGroups& groups)
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

int64_t StepRunner::local_micro_batch(const TrainConfig& c, int64_t local_batch, int pp) {
  if (c.micro_batch_size > 0) return c.micro_batch_size;
  return pp > 1 ? 1 : local_batch;
}

BatchPlan StepRunner::make_plan(const Dataset& data, const Split& split, const TrainConfig& c, int dp) {
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
  const auto size_of = [&sizes](const std::string& b) { return sizes.at(b); };
  if (c.image_share < 0) return BatchPlan(buckets(data, split), size_of, c.seed);
  std::vector<bool> image;
  for (const int64_t i : split.train) image.push_back(data.samples()[static_cast<size_t>(i)].latent_shape[0] == 1);
  return BatchPlan(buckets(data, split), size_of, c.seed, image, c.image_share);
}

std::future<LoadedBatch> StepRunner::prefetch(int64_t step) {
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

const SampleInfo& StepRunner::first_sample_of_step(int64_t step) {
  return data_.samples()[static_cast<size_t>(split_.train[static_cast<size_t>(plan_.batch(step).front())])];
}

double StepRunner::accumulate(int64_t step, const LoadedBatch& batch, Gradients& grads) {
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
double StepRunner::one_stage(int64_t step, const LoadedBatch& batch, Gradients& grads, double share) {
  double loss = 0.0;
  for (int64_t first = 0; first < local_batch_; first += micro_) {
    const DitBatch b = assemble(step, batch, first, micro_, first_position());
    // The last micro-batch completes each block's gradients: reduce them at once.
    const DitTrainingOptions options = training_options(first + micro_ == local_batch_, grads);
    loss += share * dit_flow_matching_step(*s_.model, b, options, grads, share).loss;
  }
  return loss;
}

// This rank's pipeline stage: the micro-batches in the 1F1B order.
double StepRunner::pipelined(int64_t step, const LoadedBatch& batch, Gradients& grads, double share) {
  std::vector<DitBatch> micro;
  for (int64_t first = 0; first < local_batch_; first += micro_) {
    micro.push_back(assemble(step, batch, first, micro_, first_position()));
  }
  // pipeline_step calls the hook in the last micro-batch's backward only.
  return pipeline_step(*s_.model, micro, share, training_options(true, grads), grads, *groups_.pp);
}

// Video-DPO on this rank's pairs; dpo_ holds the step's means over the
// global batch (summed over the dp ranks).
double StepRunner::preference_pairs(int64_t step, const LoadedBatch& batch, Gradients& grads, double share) {
  const TrainConfig& c = s_.config;
  double loss = 0.0;
  std::vector<DpoStepResult> results;
  if (groups_.pp_size() > 1) {
    loss = pipelined_pairs(step, batch, grads, share, results);
  } else {
    for (int64_t first = 0; first < local_batch_; first += micro_) {
      const DpoBatch b = assemble_pairs(step, batch, first, micro_);
      // The last micro-batch completes each block's gradients: reduce them at once.
      const DitTrainingOptions options = training_options(first + micro_ == local_batch_, grads);
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
double StepRunner::pipelined_pairs(int64_t step, const LoadedBatch& batch, Gradients& grads, double share,
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
  return pipeline_step(*s_.model, inputs, dpo, training_options(true, grads), grads, *groups_.pp);
}

// Pairs [first, first + count) of a step's batch: both clips share the
// noise and t keyed by (seed, step, position in the global batch); no
// text dropout (both clips answer the same prompt).
DpoBatch StepRunner::assemble_pairs(int64_t step, const LoadedBatch& batch, int64_t first, int64_t count) const {
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

double StepRunner::validation_loss() {
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

DitBatch StepRunner::assemble(int64_t step, const LoadedBatch& batch, int64_t first, int64_t count,
                              int64_t position_offset, bool dropout) const {
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

DitTrainingOptions StepRunner::training_options(bool completes_blocks, Gradients& grads) {
  DitTrainingOptions options{s_.config.activation_checkpointing, {}};
  if (reduction_ && completes_blocks) {
    options.block_gradients_done = [this, &grads](int64_t block) { reduction_->block_done(grads, block); };
  }
  return options;
}

}  // namespace sv::train
