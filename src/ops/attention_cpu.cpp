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
void attend_block(const float* q, const float* k, const float* v, float* out, int64_t rows,
                  int64_t kv_len, int64_t d, int64_t ld, float scale, float* scores,
                  float* acc, float* row_max, float* row_sum) {
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
  }
}

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v,
                 std::span<const int64_t> kv_lens, float scale) {
  require_f32_contiguous(q, "attention", "q");
  require_f32_contiguous(k, "attention", "k");
  require_f32_contiguous(v, "attention", "v");
  SV_CHECK(q.rank() == 4 && k.rank() == 4 && v.shape() == k.shape(),
           "attention: q {} k {} v {} must be [B, S, H, d]", q.describe(), k.describe(),
           v.describe());
  const int64_t batch = q.dim(0), sq = q.dim(1), heads = q.dim(2), d = q.dim(3);
  const int64_t sk = k.dim(1);
  SV_CHECK(k.dim(0) == batch && k.dim(2) == heads && k.dim(3) == d,
           "attention: k {} does not match q {}", k.describe(), q.describe());
  SV_CHECK(kv_lens.empty() || static_cast<int64_t>(kv_lens.size()) == batch,
           "attention: {} key lengths for batch {}", kv_lens.size(), batch);
  for (int64_t len : kv_lens) {
    SV_CHECK(len >= 1 && len <= sk, "attention: key length {} outside [1, {}]", len, sk);
  }
  Tensor out = Tensor::empty(q.shape(), DType::F32);
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
                       scale, scores.data(), acc.data(), row_max.data(), row_sum.data());
        }
      }
    }
  }
  return out;
}

}  // namespace sv::ops
