// Splits a fused projection [B, S, H * parts * d] whose features are grouped
// per head (head h owns [h*parts*d, (h+1)*parts*d) = part 0 | part 1 | ...), as
// upstream's wqkv/wkv are viewed, into `parts` contiguous [B, S, H, d] tensors.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace sv::ops {

std::vector<Tensor> split_heads(const Tensor& fused, int64_t heads, int64_t parts);
// Backward: the parts' gradients ([B, S, H, d] each, in part order) put back
// where split_heads took them from, [B, S, H * parts * d].
Tensor split_heads_backward(const std::vector<Tensor>& dparts);

}  // namespace sv::ops
