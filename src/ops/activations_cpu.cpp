#include <cmath>

#include "ops/activations.h"
#include "ops/fast_math.h"
#include "ops/op_checks.h"

namespace sv::ops {

void gelu_tanh_(Tensor& x) {
  require_f32_contiguous(x, "gelu_tanh", "input");
  float* p = x.data<float>();
  const int64_t n = x.numel();
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  constexpr float kCoeff = 0.044715f;
#pragma omp parallel for simd schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    const float v = p[i];
    const float inner = kSqrt2OverPi * (v + kCoeff * v * v * v);
    p[i] = 0.5f * v * (1.0f + fast_tanh(inner));
  }
}

void silu_(Tensor& x) {
  require_f32_contiguous(x, "silu", "input");
  float* p = x.data<float>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = p[i] / (1.0f + std::exp(-p[i]));
}

}  // namespace sv::ops
