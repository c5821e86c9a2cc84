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

namespace {

// dx[i] = dy[i] * derivative(x[i]), after checking both.
template <typename Derivative>
Tensor pointwise_backward(const Tensor& x, const Tensor& dy, const char* op, Derivative derivative) {
  require_f32_contiguous(x, op, "input");
  require_gradient_like(dy, x, op);
  Tensor dx = Tensor::empty(x.shape(), DType::F32);
  const float* xp = x.data<float>();
  const float* gp = dy.data<float>();
  float* dxp = dx.data<float>();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) dxp[i] = gp[i] * derivative(xp[i]);
  return dx;
}

}  // namespace

Tensor gelu_tanh_backward(const Tensor& x, const Tensor& dy) {
  return pointwise_backward(x, dy, "gelu_tanh_backward", [](float v) {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    constexpr float kCoeff = 0.044715f;
    const float t = fast_tanh(kSqrt2OverPi * (v + kCoeff * v * v * v));
    return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kCoeff * v * v);
  });
}

Tensor silu_backward(const Tensor& x, const Tensor& dy) {
  return pointwise_backward(x, dy, "silu_backward", [](float v) {
    const float s = 1.0f / (1.0f + fast_exp(-v));
    return s * (1.0f + v * (1.0f - s));
  });
}

}  // namespace sv::ops
