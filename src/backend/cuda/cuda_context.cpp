#include "backend/cuda/cuda_context.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_device.h"
#include "core/error.h"

namespace sv {

CudaContext::CudaContext(int device) : device_(device) {
  const int count = cuda_device_count();
  SV_CHECK_AS(CudaError, device >= 0 && device < count,
              "cannot create a context on CUDA device {}: {} visible", device, count);
  // The destructor does not run for a half-built object, so undo by hand.
  try {
    make_current();
    // Non-blocking: our work must not serialise against the legacy default
    // stream that libraries or user code may be using.
    SV_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    SV_CUBLAS_CHECK(cublasLtCreate(&cublaslt_));
    SV_CUDA_CHECK(cudaMalloc(&workspace_, kWorkspaceBytes));
  } catch (...) {
    release();
    throw;
  }
}

CudaContext::~CudaContext() { release(); }

void CudaContext::make_current() const { SV_CUDA_CHECK(cudaSetDevice(device_)); }

void CudaContext::synchronize() const {
  make_current();
  SV_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaContext::release() noexcept {
  // Errors are ignored: this runs in destructors and during unwinding, and at
  // process exit the runtime may already be shutting down.
  if (cudaSetDevice(device_) != cudaSuccess) {
    (void)cudaGetLastError();
    return;
  }
  // Queued kernels may still use the workspace.
  if (stream_) (void)cudaStreamSynchronize(stream_);
  if (workspace_) (void)cudaFree(workspace_);
  if (cublaslt_) (void)cublasLtDestroy(cublaslt_);
  if (stream_) (void)cudaStreamDestroy(stream_);
  (void)cudaGetLastError();
  workspace_ = nullptr;
  cublaslt_ = nullptr;
  stream_ = nullptr;
}

}  // namespace sv
