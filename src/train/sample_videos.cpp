#include "train/sample_videos.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/random.h"
#include "io/durable_file.h"
#include "io/video_writer.h"
#include "models/model_directory.h"
#include "stages/decode_stage.h"
#include "stages/generation_pipeline.h"
#include "stages/text_encode_stage.h"

namespace sv::train {

namespace fs = std::filesystem;

SampleVideos::SampleVideos(const fs::path& model_dir, SampleSettings settings) : settings_(std::move(settings)) {
  // Captions were trained without the release's prompt suffix; the negative
  // prompt is the empty caption that text dropout trains.
  TextEncodeOptions text_options;
  text_options.positive_suffix = "";
  text_options.negative_prompt = "";
  const TextEncodeStage text = TextEncodeStage::open(model_dir, text_options);
  const bool guided = settings_.sampling.cfg_scale > 1.0f;
  for (const std::string& prompt : settings_.prompts) {
    text_.push_back(batch_conditioning({text.encode({PromptItem{prompt, {}, {}}})}, guided));
  }
  vae_ = load_vae(model_dir, VaeParts::Decoder);
}

SampleVideos::~SampleVideos() = default;

void SampleVideos::write(const DitModel& dit, const fs::path& dir) const {
  fs::create_directories(dir);
  const Shape& s = settings_.latent_shape;
  nlohmann::json listing = nlohmann::json::array();
  for (size_t k = 0; k < settings_.prompts.size(); ++k) {
    const Tensor noise = gaussian_noise(Shape{1, s[0], s[1], s[2], s[3]}, settings_.seed + k);
    const Tensor latents = DenoiseStage(dit).run(noise, text_[k], settings_.sampling);
    const Tensor rgb = DecodeStage(*vae_).run(latents);
    const std::string file = fmt::format("sample-{}.mp4", k);
    io::write_video(dir / file, rgb, io::VideoWriteOptions{settings_.fps, io::VideoCodec::H264, 18});
    listing.push_back({{"file", file}, {"prompt", settings_.prompts[k]}, {"seed", settings_.seed + k}});
  }
  const nlohmann::json info{{"samples", listing},
                            {"steps", settings_.sampling.steps},
                            {"cfg_scale", settings_.sampling.cfg_scale},
                            {"time_shift", settings_.sampling.time_shift}};
  io::write_text_atomic(dir / "samples.json", info.dump(2) + "\n");
  log_info("samples: {} videos in {}", settings_.prompts.size(), dir.string());
}

}  // namespace sv::train
