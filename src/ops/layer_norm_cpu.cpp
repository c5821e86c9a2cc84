#include <cmath>

#include "ops/layer_norm.h"
#include "ops/op_checks.h"

namespace sv::ops {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  require_f32_contiguous(x, "layer_norm", "input");
  const int64_t d = x.dim(-1);
  const int64_t rows = d ? x.numel() / d : 0;
  const float* w = nullptr;
  const float* b = nullptr;
  if (weight.defined()) {
    require_f32_contiguous(weight, "layer_norm", "weight");
    SV_CHECK(weight.numel() == d, "layer_norm: weight {} for input {}", weight.describe(),
             x.describe());
    w = weight.data<float>();
  }
  if (bias.defined()) {
    require_f32_contiguous(bias, "layer_norm", "bias");
    SV_CHECK(bias.numel() == d, "layer_norm: bias {} for input {}", bias.describe(), x.describe());
    b = bias.data<float>();
  }
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
#pragma omp parallel for schedule(static) if (rows * d > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = xp + r * d;
    float* yr = yp + r * d;
    // Two passes in double: the biased variance of rows with a large mean
    // loses digits in f32, and this is cheap next to the GEMMs.
    double sum = 0.0;
    for (int64_t i = 0; i < d; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(d);
    double sq = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      const double c = xr[i] - mean;
      sq += c * c;
    }
    const double var = sq / static_cast<double>(d);
    const auto inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    const auto m = static_cast<float>(mean);
    for (int64_t i = 0; i < d; ++i) {
      float v = (xr[i] - m) * inv;
      if (w) v *= w[i];
      if (b) v += b[i];
      yr[i] = v;
    }
  }
  return y;
}

}  // namespace sv::ops
