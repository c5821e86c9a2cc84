// C = alpha * A * W^T + beta * C on the GPU through cuBLASLt, row-major, with
// W laid out as a Linear weight ([out_features, in_features]).
#pragma once

#include "backend/cuda/cuda_context.h"
#include "core/tensor.h"

namespace sv {

// a: [M, K], w: [N, K], c: [M, N], all on ctx's device. Rows may be strided
// (e.g. a column slice of a fused QKV output) but each row must be dense.
// Supported: a, w, c all f32 (true f32 math: TF32 is never used), or a and w
// bf16 with f32 accumulation and c bf16 or f32. With beta == 0, c is not read.
// Queued on ctx.stream(); call ctx.synchronize() before reading c on the host.
void cuda_matmul(const CudaContext& ctx, const Tensor& a, const Tensor& w, Tensor& c,
                 float alpha = 1.0f, float beta = 0.0f);

}  // namespace sv
