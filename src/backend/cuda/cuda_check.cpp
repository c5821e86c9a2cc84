#include "backend/cuda/cuda_check.h"

#include "core/error.h"

namespace sv::detail {

void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  // The runtime also keeps the error as its "last error"; clear it, or a
  // caller that catches and recovers (say from out-of-memory) would see it
  // again at the next cudaGetLastError() after an unrelated kernel launch.
  (void)cudaGetLastError();
  throw CudaError(fmt::format("{} failed at {}:{}: {} ({})", expr, file, line,
                              cudaGetErrorName(err), cudaGetErrorString(err)));
}

void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file, int line) {
  throw CudaError(fmt::format("{} failed at {}:{}: {} ({})", expr, file, line,
                              cublasLtGetStatusName(status), cublasLtGetStatusString(status)));
}

}  // namespace sv::detail
