// Everything one device's work needs: a stream, a cuBLASLt handle and a
// workspace for it. Created explicitly for a device and passed by reference;
// there is no current or default context.
#pragma once

#include <cstddef>

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "core/device.h"

namespace sv {

class CudaContext {
 public:
  // Big enough for cuBLASLt's split-K and stream-K algorithms on Hopper.
  static constexpr size_t kWorkspaceBytes = size_t{32} << 20;

  explicit CudaContext(int device);  // throws CudaError if the device is unusable
  ~CudaContext();
  // Not movable either: callers keep references to it for its whole life.
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device_index() const { return device_; }
  Device device() const { return Device::cuda(device_); }
  cudaStream_t stream() const { return stream_; }
  cublasLtHandle_t cublaslt() const { return cublaslt_; }
  void* workspace() const { return workspace_; }
  size_t workspace_bytes() const { return kWorkspaceBytes; }

  // The CUDA runtime's current device is per host thread; every entry point
  // that allocates or launches calls this first rather than trusting it.
  void make_current() const;
  // Waits for all work queued on this context's stream; surfaces asynchronous
  // errors of that work as CudaError.
  void synchronize() const;

 private:
  void release() noexcept;

  int device_ = -1;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t cublaslt_ = nullptr;
  void* workspace_ = nullptr;
};

}  // namespace sv
