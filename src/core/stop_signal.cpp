#include "core/stop_signal.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>

namespace sv {

namespace {

std::atomic<int> g_signal{0};

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGUSR1, SIGINT}) sigaddset(&set, sig);
  return set;
}

void record(int sig) {
  int none = 0;
  g_signal.compare_exchange_strong(none, sig);
}

}  // namespace

void block_stop_signals() {
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void unblock_stop_signals() {
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

StopSignalWatcher::StopSignalWatcher() {
  block_stop_signals();
  // A signal sent to this thread alone before now (pending since the process
  // started) is out of the watcher thread's reach: take it here.
  const sigset_t set = stop_signals();
  const timespec now{0, 0};
  for (int sig; (sig = sigtimedwait(&set, nullptr, &now)) > 0;) record(sig);
  thread_ = std::thread([this] { watch(); });
}

StopSignalWatcher::~StopSignalWatcher() {
  quit_ = true;
  thread_.join();
}

void StopSignalWatcher::watch() {
  const sigset_t set = stop_signals();
  // Wakes every 100 ms to see whether it should end; taking a signal is
  // immediate.
  const timespec tick{0, 100'000'000};
  int interrupts = 0;
  while (!quit_) {
    const int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig < 0) continue;  // EAGAIN (tick) or EINTR
    record(sig);
    if (sig == SIGINT && ++interrupts == 2) {
      // Ctrl-C twice: the default action, as if nobody had asked.
      signal(SIGINT, SIG_DFL);
      sigset_t only;
      sigemptyset(&only);
      sigaddset(&only, SIGINT);
      pthread_sigmask(SIG_UNBLOCK, &only, nullptr);
      raise(SIGINT);
    }
  }
}

bool stop_requested() { return g_signal.load() != 0; }
int stop_signal_number() { return g_signal.load(); }
void request_stop_for_test() { record(SIGUSR1); }

}  // namespace sv
