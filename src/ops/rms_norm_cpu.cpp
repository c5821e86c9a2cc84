#include <cmath>

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

}  // namespace sv::ops
