#include "stages/step_progress.h"

#include "core/elapsed.h"

namespace sv {

StepProgress::StepProgress(double interval_s, std::string label, std::vector<LogField> fields)
    : interval_s_(interval_s), label_(std::move(label)), fields_(std::move(fields)) {}

void StepProgress::step(int64_t step, int64_t steps) {
  ++steps_done_;
  const bool first = steps_done_ == 1, last = step + 1 == steps;
  const auto now = std::chrono::steady_clock::now();
  if (!first && !last && std::chrono::duration<double>(now - last_line_).count() < interval_s_) return;
  last_line_ = now;
  const double elapsed = seconds_since(start_);
  const double eta = elapsed / static_cast<double>(steps_done_) * static_cast<double>(steps - step - 1);
  std::vector<LogField> fields = fields_;
  fields.push_back(log_field("step", step + 1));
  fields.push_back(log_field("steps", steps));
  fields.push_back(log_field("elapsed_s", elapsed));
  fields.push_back(log_field("eta_s", eta));
  log_event(LogLevel::Info, "denoise_step",
            fmt::format("{} step {}/{}  {:.1f} s elapsed  ETA {:.1f} s", label_, step + 1, steps, elapsed, eta),
            fields);
}

}  // namespace sv
