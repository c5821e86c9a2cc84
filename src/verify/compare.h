// The fixtures' comparison metrics (fixtures/README.md section 5), in double.
#pragma once

#include <string>

#include "core/tensor.h"

namespace sv::verify {

struct Tolerance {
  double max_abs_over_max_ref = 0.0;
  double rel_l2 = 0.0;
  bool exact = false;  // integer outputs: every element equal
};

struct Comparison {
  bool shape_ok = true;
  double max_abs = 0.0;
  double max_abs_over_max_ref = 0.0;
  double rel_l2 = 0.0;
  int64_t mismatches = 0;  // exact comparisons only

  bool within(const Tolerance& tol) const;
};

// out and ref may have any numeric dtype; both are compared as doubles.
Comparison compare(const Tensor& out, const Tensor& ref, bool exact = false);

}  // namespace sv::verify
