#include "backend/cuda/cuda_memory.h"

#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_check.h"

namespace sv {

Tensor cuda_empty(const Shape& shape, DType dtype, const CudaContext& ctx) {
  const size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  ctx.make_current();
  void* p = nullptr;
  if (bytes) SV_CUDA_CHECK(cudaMalloc(&p, bytes));
  const int device = ctx.device_index();
  // The deleter may run on any thread, with any device current, after the
  // context is gone: it only needs the device index. It must not throw.
  // cudaFree waits for the device to go idle, so kernels still queued that
  // read the block finish first.
  std::shared_ptr<void> owner(p, [device](void* q) {
    if (!q) return;
    int previous = -1;
    const bool restore = cudaGetDevice(&previous) == cudaSuccess && previous != device;
    if (cudaSetDevice(device) == cudaSuccess) (void)cudaFree(q);
    if (restore) (void)cudaSetDevice(previous);
    (void)cudaGetLastError();
  });
  return Tensor::wrap(p, shape, dtype, std::move(owner), ctx.device());
}

// Copies are synchronous on purpose. Device -> host: the caller reads the
// result next. Host -> device: the source may be page-locked memory (then the
// copy is truly asynchronous) and this API cannot keep it alive until the
// copy ends. Both happen at load and save time, not in the step loop.

Tensor to_cuda(const Tensor& cpu, const CudaContext& ctx) {
  SV_CHECK(cpu.device().is_cpu(), "to_cuda: source {} is on {}, not the CPU", cpu.describe(),
           cpu.device().str());
  SV_CHECK(cpu.is_contiguous(), "to_cuda: source {} is not contiguous", cpu.describe());
  Tensor gpu = cuda_empty(cpu.shape(), cpu.dtype(), ctx);
  if (gpu.nbytes()) {
    SV_CUDA_CHECK(cudaMemcpyAsync(gpu.raw_data(), cpu.raw_data(), gpu.nbytes(),
                                  cudaMemcpyHostToDevice, ctx.stream()));
    SV_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
  }
  return gpu;
}

Tensor to_cpu(const Tensor& gpu, const CudaContext& ctx) {
  SV_CHECK(gpu.device() == ctx.device(), "to_cpu: source {} is on {}, the context on {}",
           gpu.describe(), gpu.device().str(), ctx.device().str());
  SV_CHECK(gpu.is_contiguous(), "to_cpu: source {} is not contiguous", gpu.describe());
  Tensor cpu = Tensor::empty(gpu.shape(), gpu.dtype());
  if (cpu.nbytes()) {
    ctx.make_current();
    SV_CUDA_CHECK(cudaMemcpyAsync(cpu.raw_data(), gpu.raw_data(), cpu.nbytes(),
                                  cudaMemcpyDeviceToHost, ctx.stream()));
    SV_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
  }
  return cpu;
}

}  // namespace sv
