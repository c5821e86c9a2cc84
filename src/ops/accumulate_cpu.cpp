#include "ops/accumulate.h"

#include "ops/op_checks.h"

namespace sv::ops {

void accumulate_(Tensor& acc, const Tensor& x) {
  require_f32_contiguous(acc, "accumulate_", "accumulator");
  SV_CHECK(x.numel() == acc.numel(), "accumulate_: {} into {}", x.describe(), acc.describe());
  const Tensor xc = x.contiguous();
  float* a = acc.data<float>();
  const float* p = xc.data<float>();
  const int64_t n = acc.numel();
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) a[i] += p[i];
}

}  // namespace sv::ops
