#include "jobs/stop_signal.h"

#include <signal.h>

#include <atomic>

namespace sv::jobs {

namespace {

std::atomic<int> g_signal{0};  // written by the handler: lock-free and async-signal-safe

extern "C" void on_stop_signal(int sig) {
  int none = 0;
  g_signal.compare_exchange_strong(none, sig);
  if (sig == SIGINT) ::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends it at once
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGUSR1, SIGINT}) sigaction(sig, &sa, nullptr);
}

bool stop_requested() { return g_signal.load() != 0; }
int stop_signal_number() { return g_signal.load(); }
void request_stop_for_test() { on_stop_signal(SIGUSR1); }

}  // namespace sv::jobs
