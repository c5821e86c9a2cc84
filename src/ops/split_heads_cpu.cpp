#include <cstring>

#include "ops/op_checks.h"
#include "ops/split_heads.h"

namespace sv::ops {

std::vector<Tensor> split_heads(const Tensor& fused, int64_t heads, int64_t parts) {
  require_f32_contiguous(fused, "split_heads", "input");
  SV_CHECK(fused.rank() == 3 && heads > 0 && parts > 0 && fused.dim(2) % (heads * parts) == 0,
           "split_heads: input {} does not split into {} heads x {} parts", fused.describe(),
           heads, parts);
  const int64_t batch = fused.dim(0), seq = fused.dim(1), d = fused.dim(2) / (heads * parts);
  std::vector<Tensor> out;
  std::vector<float*> dst;
  for (int64_t k = 0; k < parts; ++k) {
    out.push_back(Tensor::empty(Shape{batch, seq, heads, d}, DType::F32));
    dst.push_back(out.back().data<float>());
  }
  const float* src = fused.data<float>();
  const int64_t rows = batch * seq;
#pragma omp parallel for schedule(static) if (fused.numel() > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t k = 0; k < parts; ++k) {
        std::memcpy(dst[static_cast<size_t>(k)] + (r * heads + h) * d,
                    src + (r * heads + h) * parts * d + k * d, static_cast<size_t>(d) * sizeof(float));
      }
    }
  }
  return out;
}

}  // namespace sv::ops
