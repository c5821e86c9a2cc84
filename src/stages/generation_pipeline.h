// GenerationPipeline: the one path from prompts to videos that `generate`
// and `run` share. It validates every model component when it is opened
// (before any denoising), owns the text encoders, the DiT and the VAE decoder
// and when each is resident, and describes a finished video the same way for
// both commands. Request validation and rounding live in generation_request.h;
// the callers keep only what differs: `generate` writes one file, `run`
// batches, journals and preempts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "models/dit/dit_model.h"
#include "models/vae/vae_model.h"
#include "parallel/parallel_groups.h"
#include "stages/decode_stage.h"
#include "stages/denoise_stage.h"
#include "stages/generation_request.h"
#include "stages/text_encode_stage.h"
#include "stages/write_stage.h"

namespace sv {

// When the models are in memory.
enum class ModelResidency {
  // All three loaded when the pipeline opens and kept: many videos (`run`).
  KeepAll,
  // Each loaded when its stage first needs it; the text encoders are released
  // before the DiT loads, and with `offload` the DiT before the VAE: one
  // video (`generate`), the smallest peak.
  StageWise,
};

struct PipelineOptions {
  std::filesystem::path model_dir;
  ModelResidency residency = ModelResidency::KeepAll;
  // Keep the DiT's bf16 weights mapped and widen them per layer (and, stage
  // wise, release the DiT before the VAE loads).
  bool offload = false;
  VaeDecodeOptions vae_decode;  // spatial tiling (off by default)
  TextEncodeOptions text;       // the suffix and negative prompt an item does not set
};

// How the initial latents of a video made from its seed are drawn (sidecars).
inline constexpr const char* kSeededNoise = "philox4x32-10 box-muller (seed)";

class GenerationPipeline {
 public:
  // Checks the directory, the DiT's config and the VAE's config and weight
  // header (InputError / CheckpointError naming the file) before anything
  // heavy loads; KeepAll then loads every model.
  GenerationPipeline(PipelineOptions options, const ParallelGroups& groups);
  ~GenerationPipeline();
  GenerationPipeline(const GenerationPipeline&) = delete;
  GenerationPipeline& operator=(const GenerationPipeline&) = delete;

  const PipelineOptions& options() const { return options_; }
  const DitConfig& dit_config() const { return dit_config_; }
  // Latents of one video of this size for this model.
  Shape latent_shape(const VideoSize& size) const;

  // 1. One prompt's conditioning rows: [prompt + suffix, negative prompt].
  TextConditioning encode_text(const PromptItem& item);
  // 2. Each video's own noise from its seed, stacked: [B, F, C, H, W]. A
  // video's noise never depends on the batch it is in.
  Tensor noise(const VideoSize& size, const std::vector<int64_t>& seeds) const;
  // 3. The flow-matching loop (DenoiseStage) over the DiT.
  Tensor denoise(const Tensor& latents, const DitConditioning& cond, const DenoiseOptions& options,
                 const StepCallback& on_step = {});
  // 4. One video's latents [1, F, C, H, W] to frames, the latent chunks spread
  // over the replica's ranks; the leader gets the frames, the others an
  // undefined tensor. NonFiniteFrames on the leader for NaN/Inf frames.
  Tensor decode(const Tensor& z);

  // The sidecar fields every video shares: prompt with the suffix and
  // negative prompt actually used, seed and noise, the frames' and latents'
  // shapes, sampling, layout, tiling and the model's identity. Callers add
  // their own (`leading`, `details`, `timings`).
  VideoSidecar describe(const std::filesystem::path& video, const PromptItem& prompt, int64_t seed,
                        const Shape& frames, int64_t fps, const DenoiseOptions& sampling) const;
  // Seconds spent loading each model so far ("load_text_s", "load_dit_s", "load_vae_s").
  const nlohmann::ordered_json& load_timings() const { return load_timings_; }

 private:
  void load_text();
  void load_dit();
  void load_vae();

  PipelineOptions options_;
  const ParallelGroups& groups_;
  DitConfig dit_config_;
  nlohmann::ordered_json model_identity_;  // computed once, on the replica's leader
  nlohmann::ordered_json load_timings_ = nlohmann::ordered_json::object();
  std::unique_ptr<TextEncodeStage> text_;
  std::unique_ptr<DitModel> dit_;
  std::unique_ptr<VaeModel> vae_;
};

// The DiT's conditioning for a batch of prompts, each encoded alone: rows
// [prompt_1 .. prompt_B | negative_1 .. negative_B] with guidance (the order
// upstream concatenates them), [prompt_1 .. prompt_B] without.
DitConditioning batch_conditioning(const std::vector<TextConditioning>& items, bool guided);

// InputError when denoised latents hold NaN or infinity: nothing may be
// decoded from them (the frames would be black).
void check_denoised_latents(const Tensor& latents);

}  // namespace sv
