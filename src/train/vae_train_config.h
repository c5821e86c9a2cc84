// Everything that defines a Video-VAE training run (`stepvideo train
// --component vae`, README "Training the Video-VAE"), recorded in the run
// directory and in every checkpoint. As for the DiT's runs, a resumed run may
// change only how long it runs and how it reports.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "train/adamw.h"
#include "train/train_config.h"

namespace sv::train {

struct VaeTrainConfig {
  std::filesystem::path model;  // base model directory (its vae/ is trained), absolute
  std::filesystem::path data;   // a media manifest (encode-dataset's input: videos and images), absolute
  uint64_t seed = 0;
  int64_t batch_size = 4;
  // Clips: the first `frames` frames of each video (a whole VAE chunk: 17,
  // or 9), scaled and centre-cropped to height x width as encode-dataset
  // does; images train as 1-frame clips.
  int64_t height = 64, width = 64, frames = 17;
  // The fraction of steps that train on a batch of images; < 0: batches as
  // the data's kinds fall.
  double image_share = -1.0;
  double kl_weight = 1e-3;  // train/vae_step.h
  double l2_weight = 0.0;
  // A fresh run from an untrained VAE: the log-variance half of the
  // encoder's output bias (encoder.conv_out.conv.bias) is set to this, so the
  // posterior starts nearly deterministic (std exp(x / 2)); NaN: the weights
  // as they are. Measured: from a random VAE with the sampling noise as large
  // as the latents, the decoder learned to draw the background only.
  double init_logvar = std::numeric_limits<double>::quiet_NaN();
  // A fresh run: zero the last convolution of every residual branch
  // (Resnet3DBlock's conv2, the mid attention's proj_out), so each block
  // starts as the identity and a deep random VAE trains as a shallow one first.
  bool zero_init_residuals = false;
  double lr = 1e-4, lr_floor = 0.0;
  // > 0: a weight with more inputs per output than this learns at
  // lr x lr_fan_in / inputs (0: every parameter at lr). AdamW moves every
  // weight by about lr a step whatever its fan-in, so the output of a layer
  // with 13,824 inputs (the tiny VAE's convolutions from 512 channels) moves
  // 32 times as far as one with 432 (README: measured, a small gain).
  double lr_fan_in = 0.0;
  LrSchedule lr_schedule = LrSchedule::Constant;
  int64_t warmup_steps = 0;
  AdamWSettings adamw;
  int64_t max_bad_steps = 5;
  // Run length and reporting (may change on resume).
  int64_t steps = 1000;
  int64_t checkpoint_every = 100, keep_checkpoints = 3, log_every = 10;

  // The learning-rate factor of a parameter of this (checkpoint) shape.
  double lr_scale(const Shape& shape) const;
  double learning_rate(int64_t step) const {
    return scheduled_learning_rate(lr_schedule, lr, lr_floor, warmup_steps, 0, steps, step);
  }
  // InputError naming the option that is out of range.
  void validate() const;
  nlohmann::json to_json() const;
  static VaeTrainConfig from_json(const nlohmann::json& j, const std::filesystem::path& file);
  // The computation-defining fields (option names) whose values differ.
  std::vector<std::string> computation_differences(const VaeTrainConfig& other) const;
};

}  // namespace sv::train
