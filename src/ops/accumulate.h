// acc += x elementwise: how the backwards sum the gradients a tensor
// receives from several uses (a residual and its branch, every block's share
// of the text and timestep gradients).
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// acc: contiguous f32; x: the same number of elements, any layout.
void accumulate_(Tensor& acc, const Tensor& x);

}  // namespace sv::ops
