#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/gemm.h"
#include "ops/biased_attention.h"
#include "ops/op_checks.h"

namespace sv::ops {

Tensor biased_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                        float scale) {
  require_f32_contiguous(q, "biased_attention", "q");
  require_f32_contiguous(k, "biased_attention", "k");
  require_f32_contiguous(v, "biased_attention", "v");
  SV_CHECK(q.rank() == 4 && k.rank() == 4 && k.shape() == v.shape(),
           "biased_attention: q {} k {} v {} should be [B, S, heads, d]", q.describe(),
           k.describe(), v.describe());
  const int64_t b = q.dim(0), sq = q.dim(1), h = q.dim(2), d = q.dim(3);
  const int64_t sk = k.dim(1), g = k.dim(2);
  SV_CHECK(k.dim(0) == b && k.dim(3) == d && g > 0 && h % g == 0,
           "biased_attention: q {} and k {} disagree (batch, head size, or {} heads over {} "
           "kv heads)",
           q.describe(), k.describe(), h, g);
  int64_t bb = 1, bh = 1, br = 1;
  const float* bp = nullptr;
  if (bias.defined()) {
    require_f32_contiguous(bias, "biased_attention", "bias");
    SV_CHECK(bias.rank() == 4 && (bias.dim(0) == 1 || bias.dim(0) == b) &&
                 (bias.dim(1) == 1 || bias.dim(1) == h) &&
                 (bias.dim(2) == 1 || bias.dim(2) == sq) && bias.dim(3) == sk,
             "biased_attention: bias {} does not broadcast to [{}, {}, {}, {}]", bias.describe(),
             b, h, sq, sk);
    bb = bias.dim(0), bh = bias.dim(1), br = bias.dim(2);
    bp = bias.data<float>();
  }
  Tensor out = Tensor::empty(q.shape(), DType::F32);
  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  float* op = out.data<float>();
  const int64_t per_group = h / g;
  const int64_t ldq = h * d, ldk = g * d;

#pragma omp parallel
  {
    std::vector<float> scores(static_cast<size_t>(sq * sk));
#pragma omp for collapse(2) schedule(static)
    for (int64_t bi = 0; bi < b; ++bi) {
      for (int64_t hi = 0; hi < h; ++hi) {
        const int64_t gi = hi / per_group;
        const float* qh = qp + bi * sq * ldq + hi * d;
        const float* kh = kp + bi * sk * ldk + gi * d;
        const float* vh = vp + bi * sk * ldk + gi * d;
        float* s = scores.data();
        cpu::sgemm(false, true, sq, sk, d, scale, qh, ldq, kh, ldk, 0.0f, s, sk);
        const float* brow0 =
            bp ? bp + ((bb == 1 ? 0 : bi) * bh + (bh == 1 ? 0 : hi)) * br * sk : nullptr;
        for (int64_t i = 0; i < sq; ++i) {
          float* row = s + i * sk;
          if (brow0) {
            const float* brow = brow0 + (br == 1 ? 0 : i) * sk;
            for (int64_t j = 0; j < sk; ++j) row[j] += brow[j];
          }
          float m = -INFINITY;
          for (int64_t j = 0; j < sk; ++j) m = std::max(m, row[j]);
          float sum = 0.0f;
          for (int64_t j = 0; j < sk; ++j) {
            row[j] = std::exp(row[j] - m);
            sum += row[j];
          }
          const float inv = 1.0f / sum;
          for (int64_t j = 0; j < sk; ++j) row[j] *= inv;
        }
        cpu::sgemm(false, false, sq, d, sk, 1.0f, s, sk, vh, ldk, 0.0f, op + bi * sq * ldq + hi * d,
                   ldq);
      }
    }
  }
  return out;
}

}  // namespace sv::ops
