// Sinusoidal timestep embedding of the DiT's AdaLN-single path.
#pragma once

#include "core/tensor.h"

namespace sv::ops {

// t: f32 [B] flow times; returns f32 [B, dim] = [cos | sin] of (t * t_scale) * f_k with
// f_k = exp(-ln(max_period) * k / (dim / 2)). Follows upstream's f32 operation
// order, because (1000 t) * f_k amplifies any rounding difference in f_k.
// The one DiT op without a backward: it has no parameters and its input, the
// sampled flow time, is data (gradients stop here).
Tensor timestep_embedding(const Tensor& t, int64_t dim, float t_scale = 1000.0f,
                          float max_period = 10000.0f);

}  // namespace sv::ops
