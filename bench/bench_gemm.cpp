// CPU math micro-benchmarks: SGEMM at the DiT's shapes and one Video-VAE-sized
// 3D convolution, reported as GFLOP/s so a figure can be held against the
// machine's peak. Thread count comes from OMP_NUM_THREADS (oneDNN's pool).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdint>
#include <random>
#include <vector>

#include "backend/cpu/conv3d.h"
#include "backend/cpu/gemm.h"
#include "core/tensor.h"

namespace {

std::vector<float> random_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

void set_common_counters(benchmark::State& state, double flops_per_iteration) {
  // Iteration-invariant rate: flops x iterations / time, i.e. GFLOP per second.
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = omp_get_max_threads();
}

// Args: M, N, K, trans_b. A is [M, K] row-major; B is [N, K] when trans_b (an
// nn.Linear weight, y = x W^T) and [K, N] otherwise.
void BM_Sgemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const bool trans_b = state.range(3) != 0;
  const std::vector<float> a = random_values(m * k, 1);
  const std::vector<float> b = random_values(k * n, 2);
  std::vector<float> c(static_cast<size_t>(m * n));
  const int64_t ldb = trans_b ? k : n;
  for (auto _ : state) {
    sv::cpu::sgemm(false, trans_b, m, n, k, 1.0f, a.data(), k, b.data(), ldb, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_common_counters(state, 2.0 * static_cast<double>(m) * static_cast<double>(n) *
                                 static_cast<double>(k));
  state.SetLabel(trans_b ? "N,T" : "N,N");
}

// Args: N, D, H, W, Cin, Cout, k (cubic kernel, stride 1, "same" padding).
void BM_Conv3d(benchmark::State& state) {
  const int64_t batch = state.range(0), d = state.range(1), h = state.range(2),
                w = state.range(3), cin = state.range(4), cout = state.range(5),
                k = state.range(6);
  const sv::Shape in_shape{batch, d, h, w, cin};
  const sv::Shape w_shape{cout, cin, k, k, k};
  const sv::Tensor x = sv::Tensor::from_vector(random_values(in_shape.numel(), 3), in_shape);
  const sv::Tensor weight = sv::Tensor::from_vector(random_values(w_shape.numel(), 4), w_shape);
  const sv::Tensor bias = sv::Tensor::zeros(sv::Shape{cout}, sv::DType::F32);
  sv::cpu::Conv3d conv(weight, bias, sv::cpu::Conv3dParams::uniform(1, k / 2));
  const sv::Shape out_shape = conv.output_shape(in_shape);
  sv::Tensor y = sv::Tensor::empty(out_shape, sv::DType::F32);
  // Build the primitive and reorder the weights outside the timed loop: layers
  // hold a Conv3d, so steady state is what matters.
  conv.forward(x, y);
  for (auto _ : state) {
    conv.forward(x, y);
    benchmark::DoNotOptimize(y.raw_data());
    benchmark::ClobberMemory();
  }
  const double outputs = static_cast<double>(out_shape.numel());
  set_common_counters(state, 2.0 * outputs * static_cast<double>(cin * k * k * k));
  state.SetLabel(conv.impl_name(in_shape));
}

// The first three are DiT linear layers (activations times W^T, W stored
// [out, in] as upstream); the square one is the classic comparison point.
// Times are wall clock: the calling thread's CPU time alone would misstate
// multi-threaded rates.
BENCHMARK(BM_Sgemm)
    ->ArgNames({"M", "N", "K", "transB"})
    ->Args({2112, 2048, 2048, 1})
    ->Args({2112, 8192, 2048, 1})
    ->Args({2112, 2048, 8192, 1})
    ->Args({4096, 4096, 4096, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(BM_Conv3d)
    ->ArgNames({"N", "D", "H", "W", "Cin", "Cout", "k"})
    ->Args({1, 17, 64, 64, 128, 128, 3})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
