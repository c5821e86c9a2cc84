// Exit codes of the stepvideo executable, one per error category, documented
// in the README. All stay within 1-123: 124 and above mean "killed by a
// signal or a timeout" to shells and to Slurm.
#pragma once

#include "core/error.h"

namespace sv::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,         // a check failed (e.g. verify beyond tolerance)
  kExitUsage = 2,           // bad command line
  kExitConfig = 3,          // bad config file or impossible layout
  kExitCheckpoint = 4,      // missing, truncated or mis-shaped weights
  kExitInput = 5,           // bad input data (fixture folder, latents, manifest)
  kExitComm = 6,            // MPI / NCCL failure
  kExitCuda = 7,            // CUDA failure
  kExitNotSupported = 8,
  kExitItemsFailed = 9,     // run: finished, but some items failed or manifest lines were bad
  kExitPreempted = 75,      // run: stopped by SIGTERM/SIGUSR1, state saved; requeue (EX_TEMPFAIL)
  kExitInternal = 70,       // a bug in stepvideo (EX_SOFTWARE)
};

int exit_code_for(ErrorKind kind);

}  // namespace sv::cli
