// exec_with_pending_signal SIGNAL COMMAND [ARGS...]: runs COMMAND with SIGNAL
// (TERM, USR1 or INT) already pending and blocked, as if it had arrived in
// the first instant of the process, before any code of COMMAND could run (a
// blocked signal mask and pending signals survive exec). A program that only
// unblocks such a signal late, or never takes it, shows it.
#include <signal.h>
#include <unistd.h>

#include <sys/types.h>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TERM|USR1|INT COMMAND [ARGS...]\n", argv[0]);
    return 2;
  }
  int sig = 0;
  if (std::strcmp(argv[1], "TERM") == 0) sig = SIGTERM;
  if (std::strcmp(argv[1], "USR1") == 0) sig = SIGUSR1;
  if (std::strcmp(argv[1], "INT") == 0) sig = SIGINT;
  if (sig == 0) {
    std::fprintf(stderr, "exec_with_pending_signal: unknown signal '%s'\n", argv[1]);
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  kill(getpid(), sig);  // to the process, as kill(1) and Slurm send it
  execvp(argv[2], argv + 2);
  std::perror("exec_with_pending_signal: exec");
  return 127;
}
