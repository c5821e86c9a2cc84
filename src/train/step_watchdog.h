// Ends a multi-rank training job whose step makes no progress. When a peer
// hangs (or dies without the launcher noticing), every other rank waits in a
// collective forever; each rank runs this watchdog, and the first to see its
// step outlive the limit logs why and ends the whole job (`end_job`: the
// command aborts every rank with its exit code, 6 for `train`), so a
// requeued job resumes from the newest checkpoint instead of burning its
// allocation.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace sv::train {

class StepWatchdog {
 public:
  // limit_s > 0: a fixed limit per step (--step-timeout). 0: automatic, ten
  // times the slowest finished step and at least kMinimumAutoLimit, and
  // kFirstStepLimit while no step has finished (the first step warms up).
  static constexpr double kMinimumAutoLimit = 60.0, kFirstStepLimit = 900.0;
  StepWatchdog(double limit_s, std::function<void()> end_job);
  ~StepWatchdog();
  StepWatchdog(const StepWatchdog&) = delete;
  StepWatchdog& operator=(const StepWatchdog&) = delete;

  // The watched window: a step's collectives, from its start to its checkpoint.
  void begin(int64_t step);
  void end();

 private:
  double limit() const;  // under mutex_
  void watch();

  double fixed_limit_;
  std::function<void()> end_job_;
  std::mutex mutex_;
  bool watching_ = false, quit_ = false;
  int64_t step_ = 0;
  std::chrono::steady_clock::time_point start_;
  double slowest_ = 0.0;  // seconds, of the finished steps
  std::thread thread_;
};

}  // namespace sv::train
