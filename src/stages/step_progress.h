// Denoising progress for people and machines: a line after the first step,
// then at most one per interval, and one after the last, each with the time
// so far and an estimate of what is left (event "denoise_step" in JSON logs).
// generate and run both report this way.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/log.h"

namespace sv {

class StepProgress {
 public:
  // interval_s: seconds between lines (0: every step). `label` starts each
  // line; `fields` go into every structured event.
  StepProgress(double interval_s, std::string label, std::vector<LogField> fields = {});
  // After step `step` (0-based) of `steps`.
  void step(int64_t step, int64_t steps);

 private:
  double interval_s_;
  std::string label_;
  std::vector<LogField> fields_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_line_ = start_;
  int64_t steps_done_ = 0;
};

}  // namespace sv
