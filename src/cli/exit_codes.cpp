#include "cli/exit_codes.h"

namespace sv::cli {

int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Config: return kExitConfig;
    case ErrorKind::Checkpoint: return kExitCheckpoint;
    case ErrorKind::Input: return kExitInput;
    case ErrorKind::Comm: return kExitComm;
    case ErrorKind::Cuda: return kExitCuda;
    case ErrorKind::NotSupported: return kExitNotSupported;
    case ErrorKind::Internal: return kExitInternal;
  }
  return kExitInternal;
}

}  // namespace sv::cli
