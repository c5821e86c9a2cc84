// Stop signals: Slurm sends SIGTERM (requeue, time limit, preemption) or the
// job's --signal (SIGUSR1 in our templates) shortly before it kills a job, and
// a user presses Ctrl-C (SIGINT). A run must notice, finish its current step,
// save and exit 75, so the request is only recorded here; workers look at it
// after every step.
//
// The signals are never delivered asynchronously to a thread that computes.
// oneDNN's JIT sgemm kernels point the stack pointer into a heap workspace
// while they run, so the kernel would write a signal frame (several KiB with
// AVX-512 state) below it, over the heap: that was the heap corruption of
// preempted runs (issue 12; tests/stress/signal_during_gemm.cpp shows it in
// seconds). Instead the stop signals are blocked from the first instruction
// of the executable (cli/main.cpp), every thread inherits the block, and
// one thread of our own takes them with sigtimedwait. The signal state is
// process-wide by nature.
#pragma once

#include <atomic>
#include <thread>

namespace sv {

// Blocks SIGTERM, SIGUSR1 and SIGINT in the calling thread; threads created
// afterwards inherit the mask. The executable calls it before any library
// initialiser runs, so a signal that arrives while the process starts (library
// loading, MPI start-up, model loading) waits instead of killing it.
void block_stop_signals();
// Restores the usual meaning (terminate) in the calling thread, for commands
// that do not handle the signals; one already pending acts at once.
void unblock_stop_signals();

// Takes the stop signals while it lives, on a thread of its own: the first
// one is recorded (stop_requested), later ones are ignored, except a second
// SIGINT, which ends the process as usual (Ctrl-C twice).
class StopSignalWatcher {
 public:
  StopSignalWatcher();
  ~StopSignalWatcher();
  StopSignalWatcher(const StopSignalWatcher&) = delete;
  StopSignalWatcher& operator=(const StopSignalWatcher&) = delete;

 private:
  void watch();
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

bool stop_requested();
int stop_signal_number();  // the first signal received, 0 if none
void request_stop_for_test();

}  // namespace sv
