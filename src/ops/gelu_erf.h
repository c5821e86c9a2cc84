// GELU with the exact erf form, x * (1 + erf(x / sqrt(2))) / 2 (torch's
// default approximate="none", BERT's "gelu"), in place on contiguous f32.
#pragma once

#include "core/tensor.h"

namespace sv::ops {

void gelu_erf_(Tensor& x);

}  // namespace sv::ops
