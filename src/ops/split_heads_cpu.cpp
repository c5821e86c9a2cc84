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

Tensor split_heads_backward(const std::vector<Tensor>& dparts) {
  SV_CHECK(!dparts.empty(), "split_heads_backward: no parts");
  const Tensor& first = dparts.front();
  for (const Tensor& p : dparts) {
    require_f32_contiguous(p, "split_heads_backward", "part gradient");
    SV_CHECK(p.rank() == 4 && p.shape() == first.shape(),
             "split_heads_backward: part gradients must all be [B, S, H, d]: {} and {}", first.describe(),
             p.describe());
  }
  const int64_t batch = first.dim(0), seq = first.dim(1), heads = first.dim(2), d = first.dim(3);
  const auto parts = static_cast<int64_t>(dparts.size());
  Tensor fused = Tensor::empty(Shape{batch, seq, heads * parts * d}, DType::F32);
  float* dst = fused.data<float>();
  const int64_t rows = batch * seq;
#pragma omp parallel for schedule(static) if (fused.numel() > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t k = 0; k < parts; ++k) {
        std::memcpy(dst + (r * heads + h) * parts * d + k * d,
                    dparts[static_cast<size_t>(k)].data<float>() + (r * heads + h) * d,
                    static_cast<size_t>(d) * sizeof(float));
      }
    }
  }
  return fused;
}

}  // namespace sv::ops
