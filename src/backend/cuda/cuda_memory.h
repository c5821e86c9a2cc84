// Device tensors and host <-> device copies. Allocation is plain cudaMalloc
// for now; a caching allocator can replace cuda_empty without changing callers.
#pragma once

#include "backend/cuda/cuda_context.h"
#include "core/tensor.h"

namespace sv {

// Uninitialised memory on the context's device; freed when the last view goes.
Tensor cuda_empty(const Shape& shape, DType dtype, const CudaContext& ctx);
// Both copies are complete when they return (see cuda_memory.cpp for why).
Tensor to_cuda(const Tensor& cpu, const CudaContext& ctx);
Tensor to_cpu(const Tensor& gpu, const CudaContext& ctx);

}  // namespace sv
