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

}  // namespace sv::ops
