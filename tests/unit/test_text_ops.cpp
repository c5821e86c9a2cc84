// The text encoders' ops against double-precision references: attention with
// an additive bias and grouped kv heads, and the erf GELU.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "ops/biased_attention.h"
#include "ops/gelu_erf.h"
#include "test_util.h"

namespace sv {
namespace {

// q [B,S,H,d], k/v [B,T,G,d], bias [Bb,Hb,Rb,T] broadcast.
std::vector<double> reference(const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& bias, double scale) {
  const int64_t b = q.dim(0), s = q.dim(1), h = q.dim(2), d = q.dim(3);
  const int64_t t = k.dim(1), g = k.dim(2);
  const float *qp = q.data<float>(), *kp = k.data<float>(), *vp = v.data<float>();
  std::vector<double> out(static_cast<size_t>(q.numel()));
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t i = 0; i < s; ++i) {
        const int64_t gi = hi / (h / g);
        std::vector<double> sc(static_cast<size_t>(t));
        double mx = -INFINITY;
        for (int64_t j = 0; j < t; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < d; ++c) {
            dot += double(qp[((bi * s + i) * h + hi) * d + c]) * kp[((bi * t + j) * g + gi) * d + c];
          }
          double add = 0;
          if (bias.defined()) {
            const int64_t bb = bias.dim(0) == 1 ? 0 : bi, bh = bias.dim(1) == 1 ? 0 : hi,
                          br = bias.dim(2) == 1 ? 0 : i;
            add = bias.data<float>()[((bb * bias.dim(1) + bh) * bias.dim(2) + br) * t + j];
          }
          sc[j] = dot * scale + add;
          mx = std::max(mx, sc[j]);
        }
        double sum = 0;
        for (auto& x : sc) sum += (x = std::exp(x - mx));
        for (int64_t c = 0; c < d; ++c) {
          double acc = 0;
          for (int64_t j = 0; j < t; ++j) acc += sc[j] / sum * vp[((bi * t + j) * g + gi) * d + c];
          out[static_cast<size_t>(((bi * s + i) * h + hi) * d + c)] = acc;
        }
      }
  return out;
}

TEST(BiasedAttention, CausalPerHeadBiasWithGroupedKv) {
  const int64_t b = 2, s = 7, h = 6, g = 2, d = 8;
  const Tensor q = test::random_tensor(Shape{b, s, h, d}, 1);
  const Tensor k = test::random_tensor(Shape{b, s, g, d}, 2);
  const Tensor v = test::random_tensor(Shape{b, s, g, d}, 3);
  Tensor bias = test::random_tensor(Shape{1, h, s, s}, 4);
  for (int64_t hi = 0; hi < h; ++hi)
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = i + 1; j < s; ++j) {
        bias.data<float>()[(hi * s + i) * s + j] = -std::numeric_limits<float>::infinity();
      }
  const float scale = 1.0f / std::sqrt(float(d));
  const Tensor out = ops::biased_attention(q, k, v, bias, scale);
  EXPECT_LT(test::rel_l2(out, reference(q, k, v, bias, scale)), 1e-6);
}

TEST(BiasedAttention, KeyMaskPerBatchRowAndNoBias) {
  const int64_t b = 3, s = 5, h = 2, d = 4;
  const Tensor q = test::random_tensor(Shape{b, s, h, d}, 5);
  const Tensor k = test::random_tensor(Shape{b, s, h, d}, 6);
  const Tensor v = test::random_tensor(Shape{b, s, h, d}, 7);
  Tensor bias = Tensor::zeros(Shape{b, 1, 1, s}, DType::F32);
  bias.data<float>()[0 * s + 4] = std::numeric_limits<float>::lowest();
  bias.data<float>()[2 * s + 1] = std::numeric_limits<float>::lowest();
  EXPECT_LT(test::rel_l2(ops::biased_attention(q, k, v, bias, 0.5f), reference(q, k, v, bias, 0.5)),
            1e-6);
  EXPECT_LT(test::rel_l2(ops::biased_attention(q, k, v, Tensor(), 0.5f),
                         reference(q, k, v, Tensor(), 0.5)),
            1e-6);
}

TEST(GeluErf, MatchesTheErfFormula) {
  Tensor x = test::random_tensor(Shape{1000}, 8, 3.0f);
  std::vector<double> ref;
  for (double v : test::to_double(x)) ref.push_back(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
  ops::gelu_erf_(x);
  EXPECT_LT(test::max_abs_err(x, ref), 1e-6);
}

}  // namespace
}  // namespace sv
