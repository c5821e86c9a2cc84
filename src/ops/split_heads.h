// Splits a fused projection [B, S, H * parts * d] whose features are grouped
// per head (head h owns [h*parts*d, (h+1)*parts*d) = part 0 | part 1 | ...), as
// upstream's wqkv/wkv are viewed, into `parts` contiguous [B, S, H, d] tensors.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace sv::ops {

std::vector<Tensor> split_heads(const Tensor& fused, int64_t heads, int64_t parts);

}  // namespace sv::ops
