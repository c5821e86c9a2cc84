// What one video asks for, checked and rounded the same way wherever it
// comes from: `generate`'s options or a line of a `run` manifest (with the
// run's defaults). Every number is validated where it enters: finite, in
// range, within the documented maximum (README "Limits").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/shape.h"

namespace sv {

struct SamplingRequest {
  int64_t frames = 204, height = 544, width = 992;
  int64_t steps = 50;
  float cfg_scale = 9.0f, time_shift = 13.0f;
  int64_t seed = 0;
  int64_t fps = 25;
};

// The documented maximums. Generous for the release model (204 x 544 x 992,
// 50 steps), and small enough that a typo cannot ask for terabytes.
struct RequestLimits {
  static constexpr int64_t kMaxFrames = 1020;  // 60 chunks of 17
  static constexpr int64_t kMaxSide = 4096;    // height and width, pixels
  static constexpr int64_t kMaxSteps = 1000;
  static constexpr float kMaxCfgScale = 100.0f;
  static constexpr float kMaxTimeShift = 1000.0f;
  static constexpr int64_t kMaxFps = 240;
  static constexpr int64_t kMaxBatch = 64;
};

// Names a field the way its source spells it: "--cfg-scale" for generate,
// "'cfg_scale'" for a manifest line.
using FieldName = std::function<std::string(std::string_view field)>;

// Throws InputError naming the first bad field: frames >= 17, height and
// width >= 16 (the sizes are then rounded down as upstream does), steps >= 1,
// seed >= 0, fps >= 1, cfg_scale finite and >= 0 (<= 1: guidance off),
// time_shift finite and > 0, each within RequestLimits.
void validate_request(const SamplingRequest& request, const FieldName& name);

// A prompt must have something besides white space.
void validate_prompt(const std::string& prompt, const FieldName& name);

// Upstream's rounding (StepVideoPipeline.check_inputs): frames down to a
// multiple of 17, height and width down to multiples of 16. Validated values
// never round below the minimum.
struct VideoSize {
  int64_t frames = 0, height = 0, width = 0;
  bool operator==(const VideoSize&) const = default;
};
VideoSize rounded_size(const SamplingRequest& request);
// "17 frames of 64x64 (w x h)": the one way sizes are written in messages.
std::string describe_size(const VideoSize& size);

// Latents of one video: [1, frames / 17 * 3, channels, height / 16, width / 16].
Shape video_latent_shape(const VideoSize& size, int64_t latent_channels);

}  // namespace sv
