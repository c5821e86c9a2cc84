// Videos of a few fixed prompts made with the weights being trained
// (`train --sample-every N` -> RUN_DIR/samples/step-N/), so a run can be
// watched as it learns. The text encoders and the VAE decoder of the base
// model are loaded once; each prompt's noise comes from (seed, prompt index),
// so every step's samples start from the same noise.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "models/dit/dit_model.h"
#include "models/vae/vae_model.h"
#include "stages/denoise_stage.h"

namespace sv::train {

struct SampleSettings {
  std::vector<std::string> prompts;
  Shape latent_shape;  // [F, C, h, w] of one video
  DenoiseOptions sampling;
  uint64_t seed = 0;
  int fps = 8;
};

class SampleVideos {
 public:
  SampleVideos(const std::filesystem::path& model_dir, SampleSettings settings);
  ~SampleVideos();
  SampleVideos(const SampleVideos&) = delete;
  SampleVideos& operator=(const SampleVideos&) = delete;

  // dir/sample-<k>.mp4 for every prompt, and dir/samples.json naming them.
  void write(const DitModel& dit, const std::filesystem::path& dir) const;

 private:
  SampleSettings settings_;
  std::unique_ptr<VaeModel> vae_;
  std::vector<DitConditioning> text_;  // per prompt, encoded once
};

}  // namespace sv::train
