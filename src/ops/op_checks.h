// Argument checks shared by the CPU ops: every op states what it accepts and
// fails with the op name and the offending shape instead of reading garbage.
#pragma once

#include <string_view>

#include "core/error.h"
#include "core/tensor.h"

namespace sv::ops {

inline void require_f32_contiguous(const Tensor& t, std::string_view op, std::string_view what) {
  SV_CHECK(t.defined(), "{}: {} is undefined", op, what);
  SV_CHECK(t.dtype() == DType::F32, "{}: {} must be f32, got {}", op, what, t.describe());
  SV_CHECK(t.is_contiguous(), "{}: {} must be contiguous ({})", op, what, t.describe());
  SV_CHECK(t.device().is_cpu(), "{}: {} is on {}; this op runs on the CPU", op, what,
           t.device().str());
}

// A backward's output gradient: contiguous f32, shaped as the forward's input.
inline void require_gradient_like(const Tensor& dy, const Tensor& x, std::string_view op) {
  require_f32_contiguous(dy, op, "output gradient");
  SV_CHECK(dy.shape() == x.shape(), "{}: gradient {} for input {}", op, dy.describe(), x.describe());
}

// An optional per-feature vector ([d], d = x's last axis) of an op over the
// last axis, such as a norm's weight: nullptr when undefined.
inline const float* optional_feature_vector(const Tensor& v, const Tensor& x, std::string_view op,
                                            std::string_view what) {
  if (!v.defined()) return nullptr;
  require_f32_contiguous(v, op, what);
  SV_CHECK(v.numel() == x.dim(-1), "{}: {} {} for input {}", op, what, v.describe(), x.describe());
  return v.data<float>();
}

// The same for a gradient buffer a backward adds to: nullptr when not asked for.
inline float* optional_feature_gradient(Tensor* g, const Tensor& x, std::string_view op, std::string_view what) {
  if (!g) return nullptr;
  require_f32_contiguous(*g, op, what);
  SV_CHECK(g->numel() == x.dim(-1), "{}: {} {} for input {}", op, what, g->describe(), x.describe());
  return g->data<float>();
}

}  // namespace sv::ops
