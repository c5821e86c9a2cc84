// SV_CUDA_CHECK / SV_CUBLAS_CHECK: a failed CUDA runtime or cuBLASLt call
// becomes an sv::CudaError naming the call, where it was made, and why.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

namespace sv::detail {

// Out of line so each check site stays a compare and a call.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file,
                                     int line);

}  // namespace sv::detail

#define SV_CUDA_CHECK(expr)                                                    \
  do {                                                                         \
    const cudaError_t sv_cuda_err_ = (expr);                                   \
    if (sv_cuda_err_ != cudaSuccess) [[unlikely]]                              \
      ::sv::detail::throw_cuda_error(sv_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (false)

#define SV_CUBLAS_CHECK(expr)                                                         \
  do {                                                                                \
    const cublasStatus_t sv_cublas_status_ = (expr);                                  \
    if (sv_cublas_status_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                      \
      ::sv::detail::throw_cublas_error(sv_cublas_status_, #expr, __FILE__, __LINE__); \
  } while (false)
