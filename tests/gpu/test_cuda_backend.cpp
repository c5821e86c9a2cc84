// CUDA backend: copies and cuBLASLt matmul against double-precision
// references. Every test skips on machines without a usable GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "backend/cuda/cublaslt_matmul.h"
#include "backend/cuda/cuda_context.h"
#include "backend/cuda/cuda_device.h"
#include "backend/cuda/cuda_memory.h"

namespace sv {
namespace {

Tensor random_f32(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(shape.numel()));
  for (float& x : v) x = dist(rng);
  return Tensor::from_vector(v, shape);
}

// Reads f32 or bf16 as double, so references see exactly what the GPU saw.
std::vector<double> as_doubles(const Tensor& t) {
  const Tensor f = t.dtype() == DType::F32 ? t.contiguous() : t.to(DType::F32);
  const float* p = f.data<float>();
  return std::vector<double>(p, p + f.numel());
}

// c[m, n] = sum_k a[m, k] * w[n, k]
std::vector<double> reference_matmul(const Tensor& a, const Tensor& w) {
  const int64_t rows = a.dim(0), depth = a.dim(1), cols = w.dim(0);
  const std::vector<double> av = as_doubles(a), wv = as_doubles(w);
  std::vector<double> c(static_cast<size_t>(rows * cols), 0.0);
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t n = 0; n < cols; ++n) {
      double s = 0.0;
      for (int64_t k = 0; k < depth; ++k) s += av[m * depth + k] * wv[n * depth + k];
      c[m * cols + n] = s;
    }
  return c;
}

double relative_l2(const std::vector<double>& got, const std::vector<double>& want) {
  double err = 0.0, ref = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    err += (got[i] - want[i]) * (got[i] - want[i]);
    ref += want[i] * want[i];
  }
  return std::sqrt(err / ref);
}

// Odd sizes: no dimension is a multiple of any tile or vector width.
constexpr int64_t M = 67, N = 129, K = 255;

TEST(CudaBackend, DeviceQueries) {
  if (!sv::cuda_available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_GT(cuda_device_count(), 0);
  EXPECT_FALSE(cuda_device_name(0).empty());
  EXPECT_THROW(cuda_device_name(cuda_device_count()), CudaError);
  EXPECT_THROW({ CudaContext bad(-1); }, CudaError);
}

TEST(CudaBackend, RoundTripCopy) {
  if (!sv::cuda_available()) GTEST_SKIP() << "no CUDA device";
  CudaContext ctx(0);
  const Tensor host = random_f32({3, 5, 7}, 1);
  const Tensor gpu = to_cuda(host, ctx);
  EXPECT_EQ(gpu.device(), Device::cuda(0));
  EXPECT_EQ(gpu.shape(), host.shape());
  const Tensor back = to_cpu(gpu, ctx);
  EXPECT_TRUE(back.device().is_cpu());
  ASSERT_EQ(back.shape(), host.shape());
  for (int64_t i = 0; i < host.numel(); ++i) EXPECT_EQ(back.data<float>()[i], host.data<float>()[i]);

  const Tensor bf = host.to(DType::BF16);
  const Tensor bf_back = to_cpu(to_cuda(bf, ctx), ctx);
  ASSERT_EQ(bf_back.dtype(), DType::BF16);
  for (int64_t i = 0; i < bf.numel(); ++i) EXPECT_EQ(bf_back.data_u16()[i], bf.data_u16()[i]);

  EXPECT_EQ(to_cpu(cuda_empty({0, 4}, DType::F32, ctx), ctx).numel(), 0);
  EXPECT_THROW(to_cpu(host, ctx), InternalError);
  EXPECT_THROW(to_cuda(gpu, ctx), InternalError);
}

TEST(CudaBackend, MatmulF32) {
  if (!sv::cuda_available()) GTEST_SKIP() << "no CUDA device";
  CudaContext ctx(0);
  const Tensor a = random_f32({M, K}, 2), w = random_f32({N, K}, 3);
  Tensor c = cuda_empty({M, N}, DType::F32, ctx);
  cuda_matmul(ctx, to_cuda(a, ctx), to_cuda(w, ctx), c);
  ctx.synchronize();
  // TF32 would give ~1e-3; strict f32 is ~1e-7.
  EXPECT_LT(relative_l2(as_doubles(to_cpu(c, ctx)), reference_matmul(a, w)), 1e-5);
}

TEST(CudaBackend, MatmulBf16) {
  if (!sv::cuda_available()) GTEST_SKIP() << "no CUDA device";
  CudaContext ctx(0);
  const Tensor a = random_f32({M, K}, 4).to(DType::BF16);
  const Tensor w = random_f32({N, K}, 5).to(DType::BF16);
  const std::vector<double> want = reference_matmul(a, w);
  const Tensor ga = to_cuda(a, ctx), gw = to_cuda(w, ctx);

  Tensor c_bf16 = cuda_empty({M, N}, DType::BF16, ctx);
  cuda_matmul(ctx, ga, gw, c_bf16);
  Tensor c_f32 = cuda_empty({M, N}, DType::F32, ctx);
  cuda_matmul(ctx, ga, gw, c_f32);
  ctx.synchronize();
  // bf16 output: dominated by the final rounding (2^-9 relative).
  EXPECT_LT(relative_l2(as_doubles(to_cpu(c_bf16, ctx)), want), 1e-2);
  // f32 output: only f32 accumulation error remains.
  EXPECT_LT(relative_l2(as_doubles(to_cpu(c_f32, ctx)), want), 1e-4);
}

TEST(CudaBackend, MatmulAlphaBetaAndUnalignedViews) {
  if (!sv::cuda_available()) GTEST_SKIP() << "no CUDA device";
  CudaContext ctx(0);
  // a is a column slice starting one element in: 4-byte aligned, row stride K + 1.
  const Tensor a_wide = random_f32({M, K + 1}, 6);
  const Tensor a = a_wide.slice(1, 1, K + 1);
  const Tensor w = random_f32({N, K}, 7);
  const Tensor c0 = random_f32({M, N}, 8);
  const float alpha = 0.5f, beta = -2.0f;

  Tensor c = to_cuda(c0, ctx);
  const Tensor ga = to_cuda(a_wide, ctx).slice(1, 1, K + 1);
  cuda_matmul(ctx, ga, to_cuda(w, ctx), c, alpha, beta);
  ctx.synchronize();

  std::vector<double> want = reference_matmul(a.contiguous(), w);
  const std::vector<double> c0v = as_doubles(c0);
  for (size_t i = 0; i < want.size(); ++i) want[i] = alpha * want[i] + beta * c0v[i];
  EXPECT_LT(relative_l2(as_doubles(to_cpu(c, ctx)), want), 1e-5);
}

TEST(CudaBackend, MatmulRejectsBadArguments) {
  if (!sv::cuda_available()) GTEST_SKIP() << "no CUDA device";
  CudaContext ctx(0);
  const Tensor a = cuda_empty({4, 8}, DType::F32, ctx);
  const Tensor w = cuda_empty({6, 8}, DType::F32, ctx);
  Tensor c = cuda_empty({4, 6}, DType::F32, ctx);
  Tensor c_wrong = cuda_empty({4, 5}, DType::F32, ctx);
  EXPECT_THROW(cuda_matmul(ctx, a, w, c_wrong), InternalError);
  const Tensor w_short = cuda_empty({6, 7}, DType::F32, ctx);
  EXPECT_THROW(cuda_matmul(ctx, a, w_short, c), InternalError);
  const Tensor w_host = Tensor::zeros({6, 8}, DType::F32);
  EXPECT_THROW(cuda_matmul(ctx, a, w_host, c), InternalError);
  Tensor c_bf16 = cuda_empty({4, 6}, DType::BF16, ctx);
  EXPECT_THROW(cuda_matmul(ctx, a, w, c_bf16), NotSupported);
  EXPECT_NO_THROW(cuda_matmul(ctx, a, w, c));
  ctx.synchronize();
}

}  // namespace
}  // namespace sv
