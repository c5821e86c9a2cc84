#include "train/step_watchdog.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/elapsed.h"
#include "core/log.h"

namespace sv::train {

StepWatchdog::StepWatchdog(double limit_s, std::function<void()> end_job)
    : fixed_limit_(limit_s), end_job_(std::move(end_job)), thread_([this] { watch(); }) {}

StepWatchdog::~StepWatchdog() {
  {
    const std::lock_guard lock(mutex_);
    quit_ = true;
  }
  thread_.join();
}

void StepWatchdog::begin(int64_t step) {
  const std::lock_guard lock(mutex_);
  watching_ = true;
  step_ = step;
  start_ = std::chrono::steady_clock::now();
}

void StepWatchdog::end() {
  const std::lock_guard lock(mutex_);
  if (watching_) slowest_ = std::max(slowest_, seconds_since(start_));
  watching_ = false;
}

double StepWatchdog::limit() const {
  if (fixed_limit_ > 0) return fixed_limit_;
  return slowest_ > 0 ? std::max(kMinimumAutoLimit, 10.0 * slowest_) : kFirstStepLimit;
}

void StepWatchdog::watch() {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::unique_lock lock(mutex_);
    if (quit_) return;
    if (!watching_) continue;
    const double elapsed = seconds_since(start_), allowed = limit();
    if (elapsed < allowed) continue;
    const int64_t step = step_;
    lock.unlock();
    log_line(LogLevel::Error,
             fmt::format("step {} made no progress for {:.0f} s (limit {:.0f} s{}): a rank is hung or dead; ending the "
                         "job. Run the same command to resume from the newest checkpoint",
                         step, elapsed, allowed,
                         fixed_limit_ > 0 ? ", --step-timeout" : ": 10x the slowest step, --step-timeout"));
    end_job_();
    return;
  }
}

}  // namespace sv::train
