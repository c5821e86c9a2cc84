#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/gemm.h"
#include "ops/attention.h"
#include "ops/fast_math.h"
#include "ops/op_checks.h"

namespace sv::ops {

namespace {

// Block sizes: a 64 x 512 score block (128 KiB) plus the 64 x d accumulator
// stay in L2 while the GEMMs stream K and V.
constexpr int64_t kQueryBlock = 64;
constexpr int64_t kKeyBlock = 512;

// One (batch, head, query block): O = softmax(Q K^T * scale) V over keys [0, kv_len).
// Row strides of q/k/v/out are heads * d (tokens interleave heads).
// lse (when not null) receives each row's log-sum-exp of the scaled scores.
void attend_block(const float* q, const float* k, const float* v, float* out, int64_t rows,
                  int64_t kv_len, int64_t d, int64_t ld, float scale, float* scores,
                  float* acc, float* row_max, float* row_sum, float* lse) {
  std::fill_n(row_max, rows, -std::numeric_limits<float>::infinity());
  std::fill_n(row_sum, rows, 0.0f);
  std::fill_n(acc, rows * d, 0.0f);
  for (int64_t k0 = 0; k0 < kv_len; k0 += kKeyBlock) {
    const int64_t kn = std::min(kKeyBlock, kv_len - k0);
    cpu::sgemm(false, true, rows, kn, d, scale, q, ld, k + k0 * ld, ld, 0.0f, scores, kn);
    for (int64_t r = 0; r < rows; ++r) {
      float* s = scores + r * kn;
      float m = row_max[r];
      for (int64_t j = 0; j < kn; ++j) m = std::max(m, s[j]);
      // Rescale what was accumulated under the old maximum.
      const float correction = fast_exp(row_max[r] - m);
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < kn; ++j) {
        s[j] = fast_exp(s[j] - m);
        sum += s[j];
      }
      row_sum[r] = row_sum[r] * correction + sum;
      row_max[r] = m;
      float* a = acc + r * d;
      for (int64_t c = 0; c < d; ++c) a[c] *= correction;
    }
    cpu::sgemm(false, false, rows, d, kn, 1.0f, scores, kn, v + k0 * ld, ld, 1.0f, acc, d);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float inv = 1.0f / row_sum[r];
    for (int64_t c = 0; c < d; ++c) out[r * ld + c] = acc[r * d + c] * inv;
    if (lse) lse[r] = row_max[r] + std::log(row_sum[r]);
  }
}

void check_attention_inputs(const Tensor& q, const Tensor& k, const Tensor& v, std::span<const int64_t> kv_lens,
                            const char* op) {
  require_f32_contiguous(q, op, "q");
  require_f32_contiguous(k, op, "k");
  require_f32_contiguous(v, op, "v");
  SV_CHECK(q.rank() == 4 && k.rank() == 4 && v.shape() == k.shape(), "{}: q {} k {} v {} must be [B, S, H, d]", op,
           q.describe(), k.describe(), v.describe());
  const int64_t batch = q.dim(0), sk = k.dim(1);
  SV_CHECK(k.dim(0) == batch && k.dim(2) == q.dim(2) && k.dim(3) == q.dim(3), "{}: k {} does not match q {}", op,
           k.describe(), q.describe());
  SV_CHECK(kv_lens.empty() || static_cast<int64_t>(kv_lens.size()) == batch, "{}: {} key lengths for batch {}", op,
           kv_lens.size(), batch);
  for (int64_t len : kv_lens) {
    SV_CHECK(len >= 1 && len <= sk, "{}: key length {} outside [1, {}]", op, len, sk);
  }
}

// Pointers to one (batch, head)'s rows of a [B, S, H, d] tensor and its
// gradient; rows are ld = H * d apart.
struct HeadRows {
  const float* q;
  const float* k;
  const float* v;
  const float* out;
  const float* dout;
  float* dq;
  float* dk;
  float* dv;
};

// Per-block scratch of the backward.
struct BackwardScratch {
  std::vector<float> p, dp, lse, delta;
  BackwardScratch()
      : p(static_cast<size_t>(kQueryBlock * kKeyBlock)),
        dp(p.size()),
        lse(static_cast<size_t>(kQueryBlock)),
        delta(static_cast<size_t>(kQueryBlock)) {}
};

// The backward of one (batch, head, query block) of `rows` queries.
// saved_lse: the forward's log-sum-exp of these rows, or null (then pass 1
// recomputes it from the scores).
void attend_block_backward(const HeadRows& t, int64_t rows, int64_t kv_len, int64_t d, int64_t ld, float scale,
                           const float* saved_lse, BackwardScratch& w) {
  // Pass 1: each row's log-sum-exp over its keys, and delta = rowsum(dO * O).
  std::vector<double> row_max(static_cast<size_t>(rows), -std::numeric_limits<double>::infinity());
  std::vector<double> row_sum(static_cast<size_t>(rows), 0.0);
  for (int64_t k0 = 0; !saved_lse && k0 < kv_len; k0 += kKeyBlock) {
    const int64_t kn = std::min(kKeyBlock, kv_len - k0);
    cpu::sgemm(false, true, rows, kn, d, scale, t.q, ld, t.k + k0 * ld, ld, 0.0f, w.p.data(), kn);
    for (int64_t r = 0; r < rows; ++r) {
      const float* s = w.p.data() + r * kn;
      const auto ur = static_cast<size_t>(r);
      float block_max = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < kn; ++j) block_max = std::max(block_max, s[j]);
      const double m = std::max(row_max[ur], static_cast<double>(block_max));
      // fast_exp (vectorised, ~1 ulp) on float differences; the sum in double.
      const auto mf = static_cast<float>(m);
      float sum = 0.0f;
      for (int64_t j = 0; j < kn; ++j) sum += fast_exp(s[j] - mf);
      row_sum[ur] = row_sum[ur] * std::exp(row_max[ur] - m) + static_cast<double>(sum);
      row_max[ur] = m;
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const auto ur = static_cast<size_t>(r);
    w.lse[ur] = saved_lse ? saved_lse[r] : static_cast<float>(row_max[ur] + std::log(row_sum[ur]));
    double delta = 0.0;
    for (int64_t c = 0; c < d; ++c) delta += static_cast<double>(t.dout[r * ld + c]) * t.out[r * ld + c];
    w.delta[ur] = static_cast<float>(delta);
  }
  // Pass 2: P, then dV, dS, dQ and dK, key block by key block.
  for (int64_t k0 = 0; k0 < kv_len; k0 += kKeyBlock) {
    const int64_t kn = std::min(kKeyBlock, kv_len - k0);
    float* p = w.p.data();
    float* ds = w.dp.data();
    cpu::sgemm(false, true, rows, kn, d, scale, t.q, ld, t.k + k0 * ld, ld, 0.0f, p, kn);
    for (int64_t r = 0; r < rows; ++r) {
      const float lse = w.lse[static_cast<size_t>(r)];
      for (int64_t j = 0; j < kn; ++j) p[r * kn + j] = fast_exp(p[r * kn + j] - lse);
    }
    cpu::sgemm(true, false, kn, d, rows, 1.0f, p, kn, t.dout, ld, 1.0f, t.dv + k0 * ld, ld);  // dV += P^T dO
    cpu::sgemm(false, true, rows, kn, d, 1.0f, t.dout, ld, t.v + k0 * ld, ld, 0.0f, ds, kn);  // dP = dO V^T
    for (int64_t r = 0; r < rows; ++r) {
      const float delta = w.delta[static_cast<size_t>(r)];
      for (int64_t j = 0; j < kn; ++j) ds[r * kn + j] = p[r * kn + j] * (ds[r * kn + j] - delta);
    }
    cpu::sgemm(false, false, rows, d, kn, scale, ds, kn, t.k + k0 * ld, ld, 1.0f, t.dq, ld);    // dQ += s dS K
    cpu::sgemm(true, false, kn, d, rows, scale, ds, kn, t.q, ld, 1.0f, t.dk + k0 * ld, ld);     // dK += s dS^T Q
  }
}

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v,
                 std::span<const int64_t> kv_lens, float scale, Tensor* lse) {
  check_attention_inputs(q, k, v, kv_lens, "attention");
  const int64_t batch = q.dim(0), sq = q.dim(1), heads = q.dim(2), d = q.dim(3);
  const int64_t sk = k.dim(1);
  Tensor out = Tensor::empty(q.shape(), DType::F32);
  if (lse) *lse = Tensor::empty(Shape{batch, heads, sq}, DType::F32);
  float* lp = lse ? lse->data<float>() : nullptr;
  const int64_t ld = heads * d;
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
#pragma omp for collapse(3) schedule(dynamic, 1)
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t qb = 0; qb < qblocks; ++qb) {
          const int64_t r0 = qb * kQueryBlock;
          const int64_t rows = std::min(kQueryBlock, sq - r0);
          const int64_t kv_len = kv_lens.empty() ? sk : kv_lens[static_cast<size_t>(b)];
          const int64_t q_off = ((b * sq + r0) * heads + h) * d;
          const int64_t kv_off = (b * sk * heads + h) * d;
          attend_block(qp + q_off, kp + kv_off, vp + kv_off, op + q_off, rows, kv_len, d, ld,
                       scale, scores.data(), acc.data(), row_max.data(), row_sum.data(),
                       lp ? lp + (b * heads + h) * sq + r0 : nullptr);
        }
      }
    }
  }
  return out;
}

AttentionGrads attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                  const Tensor& dout, std::span<const int64_t> kv_lens, float scale,
                                  const Tensor* lse) {
  check_attention_inputs(q, k, v, kv_lens, "attention_backward");
  require_f32_contiguous(out, "attention_backward", "output");
  require_f32_contiguous(dout, "attention_backward", "output gradient");
  SV_CHECK(out.shape() == q.shape() && dout.shape() == q.shape(),
           "attention_backward: output {} and its gradient {} must be shaped as q {}", out.describe(),
           dout.describe(), q.describe());
  const int64_t batch = q.dim(0), sq = q.dim(1), heads = q.dim(2), d = q.dim(3), sk = k.dim(1);
  if (lse) {
    require_f32_contiguous(*lse, "attention_backward", "log-sum-exp");
    SV_CHECK(lse->shape() == Shape({batch, heads, sq}), "attention_backward: log-sum-exp {} must be [{}, {}, {}]",
             lse->describe(), batch, heads, sq);
  }
  AttentionGrads g{Tensor::zeros(q.shape(), DType::F32), Tensor::zeros(k.shape(), DType::F32),
                   Tensor::zeros(v.shape(), DType::F32)};
  const int64_t ld = heads * d;
  // One (batch, head) per task: its query blocks all add into the same dK, dV rows.
#pragma omp parallel
  {
    BackwardScratch scratch;
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t kv_len = kv_lens.empty() ? sk : kv_lens[static_cast<size_t>(b)];
        const int64_t kv_off = (b * sk * heads + h) * d;
        for (int64_t r0 = 0; r0 < sq; r0 += kQueryBlock) {
          const int64_t q_off = ((b * sq + r0) * heads + h) * d;
          const HeadRows rows{q.data<float>() + q_off,       k.data<float>() + kv_off,   v.data<float>() + kv_off,
                              out.data<float>() + q_off,     dout.data<float>() + q_off, g.dq.data<float>() + q_off,
                              g.dk.data<float>() + kv_off,   g.dv.data<float>() + kv_off};
          const float* saved = lse ? lse->data<float>() + (b * heads + h) * sq + r0 : nullptr;
          attend_block_backward(rows, std::min(kQueryBlock, sq - r0), kv_len, d, ld, scale, saved, scratch);
        }
      }
    }
  }
  return g;
}

}  // namespace sv::ops
