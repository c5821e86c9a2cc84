#include "ops/modulate.h"

#include <vector>

#include "ops/op_checks.h"

namespace sv::ops {

namespace {

// A [B, D] view with a contiguous last axis: pointer to row b.
const float* row_of(const Tensor& t, int64_t b) {
  return t.data<float>() + b * t.strides()[0];
}

float* row_of(Tensor& t, int64_t b) { return t.data<float>() + b * t.strides()[0]; }

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

Tensor modulate_backward(const Tensor& x, const Tensor& scale, const Tensor& dy, Tensor& dshift, Tensor& dscale) {
  require_f32_contiguous(x, "modulate_backward", "input");
  require_gradient_like(dy, x, "modulate_backward");
  SV_CHECK(x.rank() == 3, "modulate_backward: input must be [B, S, D], got {}", x.describe());
  require_batch_rows(scale, x, "modulate_backward", "scale");
  require_batch_rows(dshift, x, "modulate_backward", "shift gradient");
  require_batch_rows(dscale, x, "modulate_backward", "scale gradient");
  const int64_t batch = x.dim(0), seq = x.dim(1), d = x.dim(2);
  Tensor dx = Tensor::empty(x.shape(), DType::F32);
  const float* xp = x.data<float>();
  const float* gp = dy.data<float>();
  float* dxp = dx.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    const float* sc = row_of(scale, b);
    float* dsh = row_of(dshift, b);
    float* dsc = row_of(dscale, b);
    std::vector<double> sum_g(static_cast<size_t>(d), 0.0), sum_gx(static_cast<size_t>(d), 0.0);
    for (int64_t s = 0; s < seq; ++s) {
      const int64_t at = (b * seq + s) * d;
      for (int64_t i = 0; i < d; ++i) {
        dxp[at + i] = gp[at + i] * (1.0f + sc[i]);
        sum_g[static_cast<size_t>(i)] += gp[at + i];
        sum_gx[static_cast<size_t>(i)] += static_cast<double>(gp[at + i]) * xp[at + i];
      }
    }
    for (int64_t i = 0; i < d; ++i) {
      dsh[i] += static_cast<float>(sum_g[static_cast<size_t>(i)]);
      dsc[i] += static_cast<float>(sum_gx[static_cast<size_t>(i)]);
    }
  }
  return dx;
}

Tensor gated_residual_backward(const Tensor& y, const Tensor& gate, const Tensor& dout, Tensor* dgate) {
  require_f32_contiguous(y, "gated_residual_backward", "update");
  require_gradient_like(dout, y, "gated_residual_backward");
  SV_CHECK(y.rank() == 3, "gated_residual_backward: update must be [B, S, D], got {}", y.describe());
  if (!gate.defined()) {
    SV_CHECK(!dgate, "gated_residual_backward: a gate gradient without a gate");
    return dout.clone();
  }
  require_batch_rows(gate, y, "gated_residual_backward", "gate");
  if (dgate) require_batch_rows(*dgate, y, "gated_residual_backward", "gate gradient");
  const int64_t batch = y.dim(0), seq = y.dim(1), d = y.dim(2);
  Tensor dy = Tensor::empty(y.shape(), DType::F32);
  const float* yp = y.data<float>();
  const float* gp = dout.data<float>();
  float* dyp = dy.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    const float* g = row_of(gate, b);
    std::vector<double> sum(static_cast<size_t>(d), 0.0);
    for (int64_t s = 0; s < seq; ++s) {
      const int64_t at = (b * seq + s) * d;
      for (int64_t i = 0; i < d; ++i) {
        dyp[at + i] = g[i] * gp[at + i];
        sum[static_cast<size_t>(i)] += static_cast<double>(gp[at + i]) * yp[at + i];
      }
    }
    if (dgate) {
      float* dg = row_of(*dgate, b);
      for (int64_t i = 0; i < d; ++i) dg[i] += static_cast<float>(sum[static_cast<size_t>(i)]);
    }
  }
  return dy;
}

}  // namespace sv::ops
