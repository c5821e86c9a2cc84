#include <cmath>

#include "ops/op_checks.h"
#include "ops/timestep_embedding.h"

namespace sv::ops {

Tensor timestep_embedding(const Tensor& t, int64_t dim, float t_scale, float max_period) {
  require_f32_contiguous(t, "timestep_embedding", "timesteps");
  SV_CHECK(t.rank() == 1, "timestep_embedding: timesteps must be [B], got {}", t.describe());
  SV_CHECK(dim > 0 && dim % 2 == 0, "timestep_embedding: dim {} must be even", dim);
  const int64_t batch = t.dim(0), half = dim / 2;
  Tensor out = Tensor::empty(Shape{batch, dim}, DType::F32);
  // Each step rounds to f32 where torch does: the exponent, exp, the scaled
  // time and their product.
  const auto neg_log_period = static_cast<float>(-std::log(static_cast<double>(max_period)));
  std::vector<float> freq(static_cast<size_t>(half));
  for (int64_t k = 0; k < half; ++k) {
    const float exponent = (neg_log_period * static_cast<float>(k)) / static_cast<float>(half);
    freq[static_cast<size_t>(k)] = std::exp(exponent);
  }
  const float* tp = t.data<float>();
  float* op = out.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    const float scaled = tp[b] * t_scale;
    for (int64_t k = 0; k < half; ++k) {
      const float arg = scaled * freq[static_cast<size_t>(k)];
      op[b * dim + k] = std::cos(arg);
      op[b * dim + half + k] = std::sin(arg);
    }
  }
  return out;
}

}  // namespace sv::ops
