#include "stages/generation_request.h"

#include <cmath>

#include "core/error.h"

namespace sv {

namespace {

void check_integer(int64_t value, int64_t low, int64_t high, const std::string& name, std::string_view unit = "") {
  SV_CHECK_AS(InputError, value >= low && value <= high, "{} must be between {} and {}{}, got {}", name, low, high,
              unit, value);
}

}  // namespace

void validate_request(const SamplingRequest& r, const FieldName& name) {
  check_integer(r.frames, 17, RequestLimits::kMaxFrames, name("frames"),
                " (rounded down to a multiple of 17)");
  check_integer(r.height, 16, RequestLimits::kMaxSide, name("height"), " pixels (rounded down to a multiple of 16)");
  check_integer(r.width, 16, RequestLimits::kMaxSide, name("width"), " pixels (rounded down to a multiple of 16)");
  check_integer(r.steps, 1, RequestLimits::kMaxSteps, name("steps"));
  check_integer(r.fps, 1, RequestLimits::kMaxFps, name("fps"));
  SV_CHECK_AS(InputError, r.seed >= 0, "{} must not be negative, got {}", name("seed"), r.seed);
  SV_CHECK_AS(InputError, std::isfinite(r.cfg_scale) && r.cfg_scale >= 0.0f && r.cfg_scale <= RequestLimits::kMaxCfgScale,
              "{} must be a finite number between 0 and {} (<= 1 turns guidance off), got {}", name("cfg_scale"),
              RequestLimits::kMaxCfgScale, r.cfg_scale);
  SV_CHECK_AS(InputError,
              std::isfinite(r.time_shift) && r.time_shift > 0.0f && r.time_shift <= RequestLimits::kMaxTimeShift,
              "{} must be a finite number above 0 and at most {}, got {}", name("time_shift"),
              RequestLimits::kMaxTimeShift, r.time_shift);
}

void validate_prompt(const std::string& prompt, const FieldName& name) {
  SV_CHECK_AS(InputError, prompt.find_first_not_of(" \t\r\n") != std::string::npos, "{} is empty", name("prompt"));
}

VideoSize rounded_size(const SamplingRequest& r) {
  return VideoSize{.frames = r.frames / 17 * 17, .height = r.height / 16 * 16, .width = r.width / 16 * 16};
}

std::string describe_size(const VideoSize& s) {
  return fmt::format("{} frames of {}x{} (w x h)", s.frames, s.width, s.height);
}

Shape video_latent_shape(const VideoSize& s, int64_t latent_channels) {
  return Shape{1, s.frames / 17 * 3, latent_channels, s.height / 16, s.width / 16};
}

}  // namespace sv
