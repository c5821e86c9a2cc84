#include "verify/compare.h"

#include <algorithm>
#include <cmath>

namespace sv::verify {

bool Comparison::within(const Tolerance& tol) const {
  if (!shape_ok) return false;
  if (tol.exact) return mismatches == 0;
  // NaN compares false, so a NaN output fails here.
  return max_abs_over_max_ref <= tol.max_abs_over_max_ref && rel_l2 <= tol.rel_l2;
}

Comparison compare(const Tensor& out, const Tensor& ref, bool exact) {
  Comparison c;
  if (out.shape() != ref.shape()) {
    c.shape_ok = false;
    c.max_abs = c.max_abs_over_max_ref = c.rel_l2 = INFINITY;
    return c;
  }
  // i64 values used as token ids fit a double exactly.
  auto as_double = [](const Tensor& t) {
    std::vector<double> v(static_cast<size_t>(t.numel()));
    const Tensor c32 = t.contiguous();
    if (t.dtype() == DType::I64) {
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(c32.data<int64_t>()[i]);
    } else {
      const Tensor f = c32.to(DType::F32);
      for (size_t i = 0; i < v.size(); ++i) v[i] = f.data<float>()[i];
    }
    return v;
  };
  const std::vector<double> o = as_double(out), r = as_double(ref);
  double diff_sq = 0.0, ref_sq = 0.0, max_ref = 0.0;
  for (size_t i = 0; i < o.size(); ++i) {
    const double e = o[i] - r[i];
    const double ae = std::isnan(e) ? INFINITY : std::fabs(e);
    c.max_abs = std::max(c.max_abs, ae);
    max_ref = std::max(max_ref, std::fabs(r[i]));
    diff_sq += e * e;
    ref_sq += r[i] * r[i];
    if (exact && o[i] != r[i]) ++c.mismatches;
  }
  c.max_abs_over_max_ref = max_ref > 0.0 ? c.max_abs / max_ref : c.max_abs;
  c.rel_l2 = ref_sq > 0.0 ? std::sqrt(diff_sq / ref_sq) : std::sqrt(diff_sq);
  return c;
}

}  // namespace sv::verify
