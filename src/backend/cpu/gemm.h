// Single-precision GEMM on the CPU through oneDNN's JIT kernels (the same
// library does our 3D convolutions, so there is one thread pool).
#pragma once

#include <cstdint>

namespace sv::cpu {

// Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
// op(X) is X or X^T; lda/ldb/ldc are row strides of the matrices as stored.
// Uses the OpenMP pool when called outside a parallel region and one thread
// when called inside one (attention calls it per block from its own loop).
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc);

}  // namespace sv::cpu
