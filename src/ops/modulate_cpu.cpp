#include "ops/modulate.h"
#include "ops/op_checks.h"

namespace sv::ops {

namespace {

// A [B, D] view with a contiguous last axis: pointer to row b.
const float* row_of(const Tensor& t, int64_t b) {
  return t.data<float>() + b * t.strides()[0];
}

void require_batch_rows(const Tensor& t, const Tensor& x, const char* op, const char* what) {
  SV_CHECK(t.dtype() == DType::F32 && t.rank() == 2 && t.strides()[1] == 1,
           "{}: {} must be an f32 [B, D] view with a contiguous last axis, got {}", op, what,
           t.describe());
  SV_CHECK(t.dim(0) == x.dim(0) && t.dim(1) == x.dim(2), "{}: {} {} does not fit input {}", op,
           what, t.describe(), x.describe());
}

}  // namespace

void modulate_(Tensor& x, const Tensor& shift, const Tensor& scale) {
  require_f32_contiguous(x, "modulate", "input");
  SV_CHECK(x.rank() == 3, "modulate: input must be [B, S, D], got {}", x.describe());
  require_batch_rows(shift, x, "modulate", "shift");
  require_batch_rows(scale, x, "modulate", "scale");
  const int64_t batch = x.dim(0), seq = x.dim(1), d = x.dim(2);
  float* xp = x.data<float>();
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > (1 << 15))
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const float* sh = row_of(shift, b);
      const float* sc = row_of(scale, b);
      float* row = xp + (b * seq + s) * d;
      for (int64_t i = 0; i < d; ++i) row[i] = row[i] * (1.0f + sc[i]) + sh[i];
    }
  }
}

void gated_residual_(Tensor& x, const Tensor& y, const Tensor& gate) {
  require_f32_contiguous(x, "gated_residual", "input");
  require_f32_contiguous(y, "gated_residual", "update");
  SV_CHECK(x.rank() == 3 && y.shape() == x.shape(), "gated_residual: update {} for input {}",
           y.describe(), x.describe());
  if (gate.defined()) require_batch_rows(gate, x, "gated_residual", "gate");
  const int64_t batch = x.dim(0), seq = x.dim(1), d = x.dim(2);
  float* xp = x.data<float>();
  const float* yp = y.data<float>();
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > (1 << 15))
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      float* row = xp + (b * seq + s) * d;
      const float* upd = yp + (b * seq + s) * d;
      if (gate.defined()) {
        const float* g = row_of(gate, b);
        for (int64_t i = 0; i < d; ++i) row[i] += g[i] * upd[i];
      } else {
        for (int64_t i = 0; i < d; ++i) row[i] += upd[i];
      }
    }
  }
}

}  // namespace sv::ops
