#include "core/error.h"

namespace sv {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Config: return "config error";
    case ErrorKind::Checkpoint: return "checkpoint error";
    case ErrorKind::Input: return "input error";
    case ErrorKind::Comm: return "communication error";
    case ErrorKind::Cuda: return "CUDA error";
    case ErrorKind::NotSupported: return "not supported";
    case ErrorKind::Internal: return "internal error";
  }
  return "error";
}

}  // namespace sv
