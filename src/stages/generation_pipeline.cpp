#include "stages/generation_pipeline.h"

#include <chrono>

#include "core/elapsed.h"
#include "core/error.h"
#include "core/random.h"
#include "models/model_directory.h"

namespace sv {

namespace fs = std::filesystem;

namespace {

// Tensors of equal trailing shape stacked along axis 0.
Tensor concat_rows(const std::vector<Tensor>& parts) {
  std::vector<int64_t> dims = parts.front().shape().dims();
  int64_t rows = 0;
  for (const Tensor& p : parts) rows += p.dim(0);
  dims[0] = rows;
  Tensor out = Tensor::empty(Shape(dims), parts.front().dtype());
  int64_t at = 0;
  for (const Tensor& p : parts) {
    out.slice(0, at, at + p.dim(0)).copy_from(p);
    at += p.dim(0);
  }
  return out;
}

// Rows [first, first + 1) of every item's `field`.
template <typename Field>
std::vector<Tensor> rows_of(const std::vector<TextConditioning>& items, int64_t first, Field field) {
  std::vector<Tensor> rows;
  rows.reserve(items.size());
  for (const TextConditioning& item : items) rows.push_back(field(item).slice(0, first, first + 1));
  return rows;
}

}  // namespace

GenerationPipeline::GenerationPipeline(PipelineOptions options, const ParallelGroups& groups)
    : options_(std::move(options)), groups_(groups) {
  // Everything that can be checked without loading weights is checked first:
  // a broken VAE file must not cost a whole trajectory.
  check_model_directory(options_.model_dir);
  check_vae_files(options_.model_dir);
  dit_config_ = DitConfig::from_file(options_.model_dir / "transformer" / "config.json");
  if (groups_.replica->rank() == 0) {
    model_identity_ = {{"directory", fs::absolute(options_.model_dir).string()},
                       {"files", model_identity(options_.model_dir)}};
  }
  if (options_.residency == ModelResidency::KeepAll) {
    load_text();
    load_dit();
    load_vae();
  }
}

GenerationPipeline::~GenerationPipeline() = default;

void GenerationPipeline::load_text() {
  if (text_) return;
  const auto t0 = std::chrono::steady_clock::now();
  text_ = std::make_unique<TextEncodeStage>(TextEncodeStage::open(options_.model_dir, options_.text));
  load_timings_["load_text_s"] = seconds_since(t0);
}

void GenerationPipeline::load_dit() {
  if (dit_) return;
  const auto t0 = std::chrono::steady_clock::now();
  dit_ = sv::load_dit(options_.model_dir, groups_, options_.offload);
  load_timings_["load_dit_s"] = seconds_since(t0);
}

void GenerationPipeline::load_vae() {
  if (vae_) return;
  const auto t0 = std::chrono::steady_clock::now();
  vae_ = sv::load_vae(options_.model_dir, VaeParts::Decoder);
  load_timings_["load_vae_s"] = seconds_since(t0);
}

Shape GenerationPipeline::latent_shape(const VideoSize& size) const {
  return video_latent_shape(size, dit_config_.in_channels);
}

TextConditioning GenerationPipeline::encode_text(const PromptItem& item) {
  load_text();
  return text_->encode({item});
}

Tensor GenerationPipeline::noise(const VideoSize& size, const std::vector<int64_t>& seeds) const {
  SV_CHECK(!seeds.empty(), "noise for an empty batch");
  const Shape one = latent_shape(size);
  const auto n = static_cast<int64_t>(seeds.size());
  Tensor latents = Tensor::empty(Shape{n, one[1], one[2], one[3], one[4]}, DType::F32);
  for (int64_t k = 0; k < n; ++k) {
    latents.slice(0, k, k + 1).copy_from(gaussian_noise(one, static_cast<uint64_t>(seeds[static_cast<size_t>(k)])));
  }
  return latents;
}

Tensor GenerationPipeline::denoise(const Tensor& latents, const DitConditioning& cond,
                                   const DenoiseOptions& options, const StepCallback& on_step) {
  if (options_.residency == ModelResidency::StageWise) text_.reset();  // never needed again
  load_dit();
  return DenoiseStage(*dit_).run(latents, cond, options, on_step);
}

Tensor GenerationPipeline::decode(const Tensor& z) {
  if (options_.residency == ModelResidency::StageWise && options_.offload) dit_.reset();
  load_vae();
  return DecodeStage(*vae_, options_.vae_decode).run_distributed(z, *groups_.replica);
}

VideoSidecar GenerationPipeline::describe(const fs::path& video, const PromptItem& prompt, int64_t seed,
                                          const Shape& frames, int64_t fps, const DenoiseOptions& sampling) const {
  SV_CHECK(frames.rank() == 4, "{}: frames must be [frames, height, width, 3], got {}", video.string(), frames.str());
  VideoSidecar s;
  s.video = video.filename().string();
  s.prompt = prompt.prompt;
  s.positive_suffix = prompt.positive_suffix.value_or(options_.text.positive_suffix);
  s.negative_prompt = prompt.negative_prompt.value_or(options_.text.negative_prompt);
  s.seed = seed;
  s.noise = kSeededNoise;
  s.frames = frames;
  s.fps = fps;
  s.sampling = sampling;
  s.latent_shape = latent_shape(VideoSize{frames[0], frames[1], frames[2]});
  s.layout = groups_.layout.str();
  s.world_size = groups_.world_size;
  s.tiling = options_.vae_decode.tiling;
  s.model = model_identity_;
  return s;
}

DitConditioning batch_conditioning(const std::vector<TextConditioning>& items, bool guided) {
  SV_CHECK(!items.empty(), "conditioning for an empty batch");
  // Every item's prompt row, then (guided) every item's negative row.
  const auto stack = [&](auto field) {
    std::vector<Tensor> rows = rows_of(items, 0, field);
    if (guided) {
      const std::vector<Tensor> negatives = rows_of(items, 1, field);
      rows.insert(rows.end(), negatives.begin(), negatives.end());
    }
    return concat_rows(rows);
  };
  DitConditioning cond;
  cond.y = stack([](const TextConditioning& c) { return c.y; });
  cond.clip = stack([](const TextConditioning& c) { return c.clip_embedding; }).to(DType::F32);
  cond.mask = stack([](const TextConditioning& c) { return c.y_mask; });
  return cond;
}

void check_denoised_latents(const Tensor& latents) {
  SV_CHECK_AS(InputError, all_finite(latents), "denoising produced NaN or infinite latents");
}

}  // namespace sv
