// signal_during_gemm handler|watcher [SECONDS] [M N K]: the root cause of
// issue 12 in isolation. One thread runs oneDNN sgemm in a loop while another
// sends the process SIGUSR1 every 50 us (as kill(1) and Slurm do).
//
//   handler  the old way: an asynchronous handler (sigaction) records where its
//            own stack frame lands. oneDNN's JIT kernels run with the stack
//            pointer moved into a heap workspace, so most frames land outside
//            the thread's stack, in the heap, and glibc soon aborts with
//            "corrupted size vs. prev_size" or "free(): invalid next size".
//   watcher  the product's way (core/stop_signal.h): the signals are blocked
//            in the computing thread and taken by StopSignalWatcher's thread;
//            no frame is ever pushed on the computing thread; exits 0.
//
// Evidence for the closing note and bench/README-style reports, not a CI test
// (the handler mode is meant to crash).
#include <dnnl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "core/stop_signal.h"

namespace {

uintptr_t g_stack_lo = 0, g_stack_hi = 0;
std::atomic<long> g_frames{0}, g_outside{0};
std::atomic<uintptr_t> g_last_outside{0};

extern "C" void on_signal(int) {
  volatile char here = 0;
  const auto at = reinterpret_cast<uintptr_t>(&here);
  ++g_frames;
  if (at < g_stack_lo || at >= g_stack_hi) {
    ++g_outside;
    g_last_outside = at;
  }
}

void find_own_stack() {
  pthread_attr_t attr;
  pthread_getattr_np(pthread_self(), &attr);
  void* base = nullptr;
  size_t size = 0;
  pthread_attr_getstack(&attr, &base, &size);
  pthread_attr_destroy(&attr);
  g_stack_lo = reinterpret_cast<uintptr_t>(base);
  g_stack_hi = g_stack_lo + size;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (std::strcmp(argv[1], "handler") != 0 && std::strcmp(argv[1], "watcher") != 0)) {
    std::fprintf(stderr, "usage: %s handler|watcher [SECONDS] [M N K]\n", argv[0]);
    return 2;
  }
  const bool handler = std::strcmp(argv[1], "handler") == 0;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
  const long m = argc > 5 ? std::atol(argv[3]) : 24, n = argc > 5 ? std::atol(argv[4]) : 384,
             k = argc > 5 ? std::atol(argv[5]) : 128;
  find_own_stack();
  std::unique_ptr<sv::StopSignalWatcher> watcher;
  if (handler) {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
  } else {
    sv::block_stop_signals();
    watcher = std::make_unique<sv::StopSignalWatcher>();
  }
  std::vector<float> a(static_cast<size_t>(m * k), 1.0f), b(static_cast<size_t>(k * n), 0.5f),
      c(static_cast<size_t>(m * n));
  std::atomic<bool> done{false};
  std::atomic<long> sent{0};
  std::thread sender([&] {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, nullptr);  // the signals go to the computing thread
    while (!done) {
      kill(getpid(), SIGUSR1);
      ++sent;
      usleep(50);
    }
  });
  long calls = 0;
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
    dnnl_sgemm('N', 'N', m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
    ++calls;
    std::free(std::malloc(static_cast<size_t>(1000 + calls % 5000)));  // lets glibc notice a smashed heap
  }
  done = true;
  sender.join();
  std::printf("%s: %ld sgemm calls (%ldx%ldx%ld), %ld signals sent; %ld handler frames, %ld of them outside the "
              "thread's stack (last at %#lx; stack %#lx-%#lx); stop recorded: %s\n",
              argv[1], calls, m, n, k, sent.load(), g_frames.load(), g_outside.load(),
              static_cast<unsigned long>(g_last_outside.load()), static_cast<unsigned long>(g_stack_lo),
              static_cast<unsigned long>(g_stack_hi), sv::stop_requested() ? "yes" : "no");
  return g_outside.load() == 0 ? 0 : 1;
}
