#include <cmath>

#include "ops/gelu_erf.h"
#include "ops/op_checks.h"

namespace sv::ops {

void gelu_erf_(Tensor& x) {
  require_f32_contiguous(x, "gelu_erf", "input");
  float* p = x.data<float>();
  const int64_t n = x.numel();
  constexpr float kInvSqrt2 = 0.70710678118654752f;
#pragma omp parallel for schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) p[i] = 0.5f * p[i] * (1.0f + std::erf(p[i] * kInvSqrt2));
}

}  // namespace sv::ops
