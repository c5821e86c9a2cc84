#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/gemm.h"
#include "ops/causal_attention.h"
#include "ops/fast_math.h"
#include "ops/op_checks.h"

namespace sv::ops {

namespace {

constexpr int64_t kQueryBlock = 64;
constexpr int64_t kKeyBlock = 512;

// Rows [r0, r0 + rows) of one batch item; row r attends keys [0, q_offset + r].
void attend_rows(const float* q, const float* k, const float* v, float* out, int64_t r0,
                 int64_t rows, int64_t q_offset, int64_t d, float scale, float* scores, float* acc,
                 float* row_max, float* row_sum) {
  std::fill_n(row_max, rows, -std::numeric_limits<float>::infinity());
  std::fill_n(row_sum, rows, 0.0f);
  std::fill_n(acc, rows * d, 0.0f);
  const int64_t last_key = q_offset + r0 + rows - 1;  // the last row's last key
  for (int64_t k0 = 0; k0 <= last_key; k0 += kKeyBlock) {
    const int64_t kn = std::min(kKeyBlock, last_key + 1 - k0);
    cpu::sgemm(false, true, rows, kn, d, scale, q + r0 * d, d, k + k0 * d, d, 0.0f, scores, kn);
    for (int64_t r = 0; r < rows; ++r) {
      float* s = scores + r * kn;
      // Keys past this row's position are masked; a row always sees key 0,
      // so the first block is never fully masked.
      const int64_t visible = std::clamp<int64_t>(q_offset + r0 + r + 1 - k0, 0, kn);
      if (visible == 0) {
        std::fill_n(s, kn, 0.0f);
        continue;
      }
      float m = row_max[r];
      for (int64_t j = 0; j < visible; ++j) m = std::max(m, s[j]);
      const float correction = fast_exp(row_max[r] - m);
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < visible; ++j) {
        s[j] = fast_exp(s[j] - m);
        sum += s[j];
      }
      std::fill(s + visible, s + kn, 0.0f);
      row_sum[r] = row_sum[r] * correction + sum;
      row_max[r] = m;
      float* a = acc + r * d;
      for (int64_t c = 0; c < d; ++c) a[c] *= correction;
    }
    cpu::sgemm(false, false, rows, d, kn, 1.0f, scores, kn, v + k0 * d, d, 1.0f, acc, d);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float inv = 1.0f / row_sum[r];
    float* o = out + (r0 + r) * d;
    for (int64_t c = 0; c < d; ++c) o[c] = acc[r * d + c] * inv;
  }
}

}  // namespace

Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t q_offset,
                        float scale) {
  require_f32_contiguous(q, "causal_attention", "q");
  require_f32_contiguous(k, "causal_attention", "k");
  require_f32_contiguous(v, "causal_attention", "v");
  SV_CHECK(q.rank() == 3 && k.rank() == 3 && v.shape() == k.shape(),
           "causal_attention: q {} k {} v {} must be [B, S, d]", q.describe(), k.describe(),
           v.describe());
  const int64_t batch = q.dim(0), sq = q.dim(1), d = q.dim(2), sk = k.dim(1);
  SV_CHECK(k.dim(0) == batch && k.dim(2) == d, "causal_attention: k {} does not match q {}",
           k.describe(), q.describe());
  SV_CHECK(q_offset >= 0 && q_offset + sq <= sk,
           "causal_attention: queries at [{}, {}) need that many keys, got {}", q_offset,
           q_offset + sq, sk);
  Tensor out = Tensor::empty(q.shape(), DType::F32);
  const int64_t qblocks = (sq + kQueryBlock - 1) / kQueryBlock;
  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  float* op = out.data<float>();
#pragma omp parallel
  {
    std::vector<float> scores(static_cast<size_t>(kQueryBlock * kKeyBlock));
    std::vector<float> acc(static_cast<size_t>(kQueryBlock * d));
    std::vector<float> row_max(kQueryBlock), row_sum(kQueryBlock);
    // Later query blocks see more keys: dynamic scheduling evens the load.
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t qb = 0; qb < qblocks; ++qb) {
        const int64_t r0 = qb * kQueryBlock;
        const int64_t rows = std::min(kQueryBlock, sq - r0);
        attend_rows(qp + b * sq * d, kp + b * sk * d, vp + b * sk * d, op + b * sq * d, r0, rows,
                    q_offset, d, scale, scores.data(), acc.data(), row_max.data(), row_sum.data());
      }
    }
  }
  return out;
}

CausalAttentionGrads causal_attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, int64_t q_offset,
                                               float scale, const Tensor& dout) {
  for (const auto& [t, what] : {std::pair{&q, "q"}, {&k, "k"}, {&v, "v"}, {&dout, "output gradient"}}) {
    require_f32_contiguous(*t, "causal_attention_backward", what);
    SV_CHECK(t->rank() == 3, "causal_attention_backward: {} must be [B, S, d], got {}", what, t->describe());
  }
  const int64_t b = q.dim(0), sq = q.dim(1), d = q.dim(2), sk = k.dim(1);
  SV_CHECK(k.shape() == v.shape() && k.dim(0) == b && k.dim(2) == d && dout.shape() == q.shape() && q_offset >= 0 &&
               q_offset + sq <= sk,
           "causal_attention_backward: q {}, k {}, v {}, dout {}, q_offset {}", q.describe(), k.describe(),
           v.describe(), dout.describe(), q_offset);
  CausalAttentionGrads g{Tensor::zeros(q.shape(), DType::F32), Tensor::zeros(k.shape(), DType::F32),
                         Tensor::zeros(v.shape(), DType::F32)};
  std::vector<double> p(static_cast<size_t>(sk)), dp(static_cast<size_t>(sk));
  for (int64_t bi = 0; bi < b; ++bi) {
    const float* qb = q.data<float>() + bi * sq * d;
    const float* kb = k.data<float>() + bi * sk * d;
    const float* vb = v.data<float>() + bi * sk * d;
    const float* gb = dout.data<float>() + bi * sq * d;
    float* dqb = g.dq.data<float>() + bi * sq * d;
    float* dkb = g.dk.data<float>() + bi * sk * d;
    float* dvb = g.dv.data<float>() + bi * sk * d;
    for (int64_t i = 0; i < sq; ++i) {
      const int64_t keys = q_offset + i + 1;
      const float* qi = qb + i * d;
      const float* gi = gb + i * d;
      double max = -std::numeric_limits<double>::infinity(), sum = 0.0;
      for (int64_t j = 0; j < keys; ++j) {
        double s = 0.0;
        for (int64_t c = 0; c < d; ++c) s += static_cast<double>(qi[c]) * kb[j * d + c];
        p[static_cast<size_t>(j)] = s * scale;
        max = std::max(max, p[static_cast<size_t>(j)]);
      }
      for (int64_t j = 0; j < keys; ++j) sum += p[static_cast<size_t>(j)] = std::exp(p[static_cast<size_t>(j)] - max);
      // dP_j = dout . v_j; dS_j = P_j (dP_j - sum_l P_l dP_l).
      double weighted = 0.0;
      for (int64_t j = 0; j < keys; ++j) {
        p[static_cast<size_t>(j)] /= sum;
        double acc = 0.0;
        for (int64_t c = 0; c < d; ++c) acc += static_cast<double>(gi[c]) * vb[j * d + c];
        dp[static_cast<size_t>(j)] = acc;
        weighted += p[static_cast<size_t>(j)] * acc;
      }
      for (int64_t j = 0; j < keys; ++j) {
        const double pj = p[static_cast<size_t>(j)];
        const double ds = pj * (dp[static_cast<size_t>(j)] - weighted) * scale;
        for (int64_t c = 0; c < d; ++c) {
          dvb[j * d + c] += static_cast<float>(pj * gi[c]);
          dqb[i * d + c] += static_cast<float>(ds * kb[j * d + c]);
          dkb[j * d + c] += static_cast<float>(ds * qi[c]);
        }
      }
    }
  }
  return g;
}

}  // namespace sv::ops
