#include <omp.h>

#include <cmath>
#include <vector>

#include "ops/op_checks.h"
#include "ops/rms_norm.h"

namespace sv::ops {

void rms_norm_(Tensor& x, const Tensor& weight, float eps) {
  require_f32_contiguous(x, "rms_norm", "input");
  const int64_t d = x.dim(-1);
  const int64_t rows = d ? x.numel() / d : 0;
  const float* w = nullptr;
  if (weight.defined()) {
    require_f32_contiguous(weight, "rms_norm", "weight");
    SV_CHECK(weight.numel() == d, "rms_norm: weight {} for input {}", weight.describe(),
             x.describe());
    w = weight.data<float>();
  }
  float* xp = x.data<float>();
#pragma omp parallel for schedule(static) if (rows * d > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = xp + r * d;
    double sq = 0.0;
    for (int64_t i = 0; i < d; ++i) sq += static_cast<double>(xr[i]) * xr[i];
    const auto inv =
        static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(d) + static_cast<double>(eps)));
    for (int64_t i = 0; i < d; ++i) {
      // Upstream rounds the normalised value before the weight multiply.
      const float v = xr[i] * inv;
      xr[i] = w ? v * w[i] : v;
    }
  }
}

Tensor rms_norm_backward(const Tensor& x, const Tensor& weight, float eps, const Tensor& dy, Tensor* dweight) {
  constexpr const char* op = "rms_norm_backward";
  require_f32_contiguous(x, op, "input");
  require_gradient_like(dy, x, op);
  const int64_t d = x.dim(-1);
  const int64_t rows = d ? x.numel() / d : 0;
  const float* w = optional_feature_vector(weight, x, op, "weight");
  SV_CHECK(w || !dweight, "{}: a weight gradient without a weight", op);
  float* dw = optional_feature_gradient(dweight, x, op, "weight gradient");
  Tensor dx = Tensor::empty(x.shape(), DType::F32);
  const float* xp = x.data<float>();
  const float* gp = dy.data<float>();
  float* dxp = dx.data<float>();
  // x_hat = x r, r = (mean x^2 + eps)^-1/2; with g = dy * w:
  // dx = r (g - x_hat mean(g x_hat)). Row sums in double, as the forward.
  // Rows in parallel; the weight gradient's per-thread partial sums are added
  // in thread order (deterministic for a given thread count).
  const int parts = rows * d > (1 << 14) ? omp_get_max_threads() : 1;
  const auto ud = static_cast<size_t>(d);
  std::vector<double> dw_part(dw ? static_cast<size_t>(parts) * ud : 0, 0.0);
#pragma omp parallel num_threads(parts)
  {
    double* dw_sum = dw ? dw_part.data() + static_cast<size_t>(omp_get_thread_num()) * ud : nullptr;
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      const float* xr = xp + row * d;
      const float* gr = gp + row * d;
      double sq = 0.0;
      for (int64_t i = 0; i < d; ++i) sq += static_cast<double>(xr[i]) * xr[i];
      const double r = 1.0 / std::sqrt(sq / static_cast<double>(d) + static_cast<double>(eps));
      double dot = 0.0;
      for (int64_t i = 0; i < d; ++i) {
        const double g = w ? static_cast<double>(gr[i]) * w[i] : gr[i];
        dot += g * xr[i] * r;
        if (dw_sum) dw_sum[i] += static_cast<double>(gr[i]) * xr[i] * r;
      }
      const double mean = dot / static_cast<double>(d);
      for (int64_t i = 0; i < d; ++i) {
        const double g = w ? static_cast<double>(gr[i]) * w[i] : gr[i];
        dxp[row * d + i] = static_cast<float>(r * (g - xr[i] * r * mean));
      }
    }
  }
  for (size_t i = 0; dw && i < ud; ++i) {
    double sum = 0.0;
    for (size_t t = 0; t < static_cast<size_t>(parts); ++t) sum += dw_part[t * ud + i];
    dw[i] += static_cast<float>(sum);
  }
  return dx;
}

}  // namespace sv::ops
