// Every backward op against float64 central differences of a double
// reference of its forward: the gradient of L = sum(dy * f(inputs)) with
// respect to each input, one element at a time. Parameter gradients are
// checked to accumulate (they are added to what the buffer held).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "backend/cpu/conv3d.h"
#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/causal_attention.h"
#include "ops/group_norm.h"
#include "ops/layer_norm.h"
#include "ops/linear.h"
#include "ops/modulate.h"
#include "ops/patchify.h"
#include "ops/pixel_shuffle3d.h"
#include "ops/rms_norm.h"
#include "ops/rope3d.h"
#include "ops/split_heads.h"
#include "test_util.h"

namespace sv {
namespace {

using test::random_tensor;
using test::rel_l2;
using test::to_double;
using Values = std::vector<double>;
// A forward in double precision: all inputs (flattened) -> the output (flattened).
using Reference = std::function<Values(const std::vector<Values>& inputs)>;

// d/d inputs[which] of sum(dy * f(inputs)), by central differences.
Values numeric_grad(const Reference& f, std::vector<Values> inputs, size_t which, const Values& dy) {
  constexpr double kStep = 1e-6;
  Values grad(inputs[which].size());
  for (size_t i = 0; i < grad.size(); ++i) {
    const double keep = inputs[which][i];
    inputs[which][i] = keep + kStep;
    const Values up = f(inputs);
    inputs[which][i] = keep - kStep;
    const Values down = f(inputs);
    inputs[which][i] = keep;
    double sum = 0.0;
    for (size_t j = 0; j < dy.size(); ++j) sum += dy[j] * (up[j] - down[j]);
    grad[i] = sum / (2.0 * kStep);
  }
  return grad;
}

// What a backward added to a gradient buffer that held `before`.
Tensor added(const Tensor& after, const Tensor& before) {
  Tensor d = after.contiguous().clone();
  const Tensor b = before.contiguous();
  for (int64_t i = 0; i < d.numel(); ++i) d.data<float>()[i] -= b.data<float>()[i];
  return d;
}

// Analytic in float against numeric in double: float rounding of O(1) values.
constexpr double kTolerance = 2e-5;

TEST(OpsBackward, RmsNormInputAndWeight) {
  constexpr int64_t rows = 6, d = 16;
  constexpr float eps = 1e-6f;
  const Tensor x = random_tensor(Shape{2, 3, d}, 20);
  const Tensor w = random_tensor(Shape{d}, 21);
  const Tensor dy = random_tensor(Shape{2, 3, d}, 22);
  const Reference f = [&](const std::vector<Values>& in) {
    Values y(in[0].size());
    for (int64_t r = 0; r < rows; ++r) {
      double ms = 0.0;
      for (int64_t i = 0; i < d; ++i) ms += in[0][r * d + i] * in[0][r * d + i];
      const double inv = 1.0 / std::sqrt(ms / d + eps);
      for (int64_t i = 0; i < d; ++i) y[r * d + i] = in[0][r * d + i] * inv * in[1][i];
    }
    return y;
  };
  const Tensor dw_before = random_tensor(Shape{d}, 23);
  Tensor dw = dw_before.clone();
  const Tensor dx = ops::rms_norm_backward(x, w, eps, dy, &dw);
  const std::vector<Values> inputs{to_double(x), to_double(w)};
  EXPECT_LT(rel_l2(dx, numeric_grad(f, inputs, 0, to_double(dy))), kTolerance);
  EXPECT_LT(rel_l2(added(dw, dw_before), numeric_grad(f, inputs, 1, to_double(dy))), kTolerance);

  // Without a weight: x_hat alone.
  const Tensor dx_plain = ops::rms_norm_backward(x, Tensor(), eps, dy);
  const Reference plain = [&](const std::vector<Values>& in) {
    return f({in[0], Values(static_cast<size_t>(d), 1.0)});
  };
  EXPECT_LT(rel_l2(dx_plain, numeric_grad(plain, {to_double(x)}, 0, to_double(dy))), kTolerance);
}

TEST(OpsBackward, LinearInputWeightAndBias) {
  // Rows that are not a multiple of any vector width, and a leading batch axis.
  constexpr int64_t rows = 7, in = 5, out = 6;
  const Tensor x = random_tensor(Shape{1, rows, in}, 70);
  const Tensor w = random_tensor(Shape{out, in}, 71);
  const Tensor dy = random_tensor(Shape{1, rows, out}, 72);
  const Reference f = [&](const std::vector<Values>& v) {  // x, W, b
    Values y(static_cast<size_t>(rows * out));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < out; ++j) {
        double s = v[2][j];
        for (int64_t i = 0; i < in; ++i) s += v[0][r * in + i] * v[1][j * in + i];
        y[r * out + j] = s;
      }
    return y;
  };
  const Tensor dw_before = random_tensor(Shape{out, in}, 73), db_before = random_tensor(Shape{out}, 74);
  Tensor dw = dw_before.clone(), db = db_before.clone();
  const Tensor dx = ops::linear_backward(x, w, dy, &dw, &db);
  const std::vector<Values> inputs{to_double(x), to_double(w), to_double(random_tensor(Shape{out}, 75))};
  EXPECT_EQ(dx.shape(), x.shape());
  EXPECT_LT(rel_l2(dx, numeric_grad(f, inputs, 0, to_double(dy))), kTolerance);
  EXPECT_LT(rel_l2(added(dw, dw_before), numeric_grad(f, inputs, 1, to_double(dy))), kTolerance);
  EXPECT_LT(rel_l2(added(db, db_before), numeric_grad(f, inputs, 2, to_double(dy))), kTolerance);
}

TEST(OpsBackward, LayerNormWithAndWithoutAffine) {
  constexpr int64_t rows = 4, d = 12;
  constexpr float eps = 1e-6f;
  // A large mean: the centred statistics must not lose the gradient's digits.
  Tensor x = random_tensor(Shape{rows, d}, 80);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] += 3.0f;
  const Tensor w = random_tensor(Shape{d}, 81);
  const Tensor dy = random_tensor(Shape{rows, d}, 82);
  const Reference f = [&](const std::vector<Values>& v) {  // x, weight, bias
    Values y(v[0].size());
    for (int64_t r = 0; r < rows; ++r) {
      double mean = 0.0, var = 0.0;
      for (int64_t i = 0; i < d; ++i) mean += v[0][r * d + i] / d;
      for (int64_t i = 0; i < d; ++i) var += (v[0][r * d + i] - mean) * (v[0][r * d + i] - mean) / d;
      for (int64_t i = 0; i < d; ++i) {
        y[r * d + i] = (v[0][r * d + i] - mean) / std::sqrt(var + eps) * v[1][i] + v[2][i];
      }
    }
    return y;
  };
  const Tensor dw_before = random_tensor(Shape{d}, 83), db_before = random_tensor(Shape{d}, 84);
  Tensor dw = dw_before.clone(), db = db_before.clone();
  const Tensor dx = ops::layer_norm_backward(x, w, eps, dy, &dw, &db);
  const std::vector<Values> inputs{to_double(x), to_double(w), Values(static_cast<size_t>(d), 0.5)};
  EXPECT_LT(rel_l2(dx, numeric_grad(f, inputs, 0, to_double(dy))), kTolerance);
  EXPECT_LT(rel_l2(added(dw, dw_before), numeric_grad(f, inputs, 1, to_double(dy))), kTolerance);
  EXPECT_LT(rel_l2(added(db, db_before), numeric_grad(f, inputs, 2, to_double(dy))), kTolerance);

  const Tensor dx_plain = ops::layer_norm_backward(x, Tensor(), eps, dy);
  const std::vector<Values> plain{to_double(x), Values(static_cast<size_t>(d), 1.0), Values(static_cast<size_t>(d), 0.0)};
  EXPECT_LT(rel_l2(dx_plain, numeric_grad(f, plain, 0, to_double(dy))), kTolerance);
}

// The Video-VAE's norm (issue 17): per (row, group) statistics over
// positions x the group's channels, with and without the affine and the
// fused SiLU; a large mean so the centring matters.
TEST(OpsBackward, GroupNormWithAndWithoutAffineAndSilu) {
  constexpr int64_t rows = 2, positions = 3, c = 8, groups = 2, cg = c / groups;
  constexpr float eps = 1e-6f;
  Tensor x = random_tensor(Shape{rows, positions, c}, 90);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] += 2.0f;
  const Tensor w = random_tensor(Shape{c}, 91), b = random_tensor(Shape{c}, 92);
  const Tensor dy = random_tensor(Shape{rows, positions, c}, 93);
  for (const bool silu : {false, true}) {
    const Reference f = [&](const std::vector<Values>& v) {  // x, weight, bias
      Values y(v[0].size());
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t g = 0; g < groups; ++g) {
          double mean = 0.0, var = 0.0;
          const auto at = [&](int64_t p, int64_t k) { return static_cast<size_t>((r * positions + p) * c + g * cg + k); };
          for (int64_t p = 0; p < positions; ++p)
            for (int64_t k = 0; k < cg; ++k) mean += v[0][at(p, k)] / (positions * cg);
          for (int64_t p = 0; p < positions; ++p)
            for (int64_t k = 0; k < cg; ++k) var += std::pow(v[0][at(p, k)] - mean, 2) / (positions * cg);
          for (int64_t p = 0; p < positions; ++p) {
            for (int64_t k = 0; k < cg; ++k) {
              const int64_t ch = g * cg + k;
              const double z = (v[0][at(p, k)] - mean) / std::sqrt(var + eps) * v[1][ch] + v[2][ch];
              y[at(p, k)] = silu ? z / (1.0 + std::exp(-z)) : z;
            }
          }
        }
      }
      return y;
    };
    const Tensor dw_before = random_tensor(Shape{c}, 94), db_before = random_tensor(Shape{c}, 95);
    Tensor dw = dw_before.clone(), db = db_before.clone();
    const Tensor dx = ops::group_norm_backward(x, groups, w, b, eps, silu, dy, &dw, &db);
    const std::vector<Values> inputs{to_double(x), to_double(w), to_double(b)};
    EXPECT_LT(rel_l2(dx, numeric_grad(f, inputs, 0, to_double(dy))), kTolerance) << "silu " << silu;
    EXPECT_LT(rel_l2(added(dw, dw_before), numeric_grad(f, inputs, 1, to_double(dy))), kTolerance) << "silu " << silu;
    EXPECT_LT(rel_l2(added(db, db_before), numeric_grad(f, inputs, 2, to_double(dy))), kTolerance) << "silu " << silu;

    const Tensor dx_plain = ops::group_norm_backward(x, groups, Tensor(), Tensor(), eps, silu, dy);
    const std::vector<Values> plain{to_double(x), Values(static_cast<size_t>(c), 1.0), Values(static_cast<size_t>(c), 0.0)};
    EXPECT_LT(rel_l2(dx_plain, numeric_grad(f, plain, 0, to_double(dy))), kTolerance) << "silu " << silu;
  }
  Tensor dw = Tensor::zeros(Shape{c}, DType::F32);
  EXPECT_THROW(ops::group_norm_backward(x, groups, Tensor(), Tensor(), eps, false, dy, &dw), Error);
  EXPECT_THROW(ops::group_norm_backward(x, 3, w, b, eps, false, dy), Error);
}

// The Video-VAE's convolution (issue 17) through oneDNN's backward
// primitives: causal time padding (front only), and a strided downsample.
TEST(OpsBackward, Conv3dInputWeightAndBias) {
  struct Case {
    std::array<int64_t, 5> in;  // N, D, H, W, Cin
    int64_t cout;
    std::array<int64_t, 3> kernel;
    cpu::Conv3dParams params;
  };
  const Case cases[] = {
      {{1, 3, 4, 3, 2}, 3, {3, 3, 3}, cpu::Conv3dParams{{1, 1, 1}, {2, 1, 1}, {0, 1, 1}}},
      {{2, 2, 5, 5, 3}, 2, {1, 3, 3}, cpu::Conv3dParams{{1, 2, 2}, {0, 1, 1}, {0, 1, 1}}},
  };
  uint64_t seed = 100;
  for (const Case& k : cases) {
    const auto [n, d, h, w, cin] = k.in;
    const Tensor x = random_tensor(Shape{n, d, h, w, cin}, seed++);
    const Tensor wt = random_tensor(Shape{k.cout, cin, k.kernel[0], k.kernel[1], k.kernel[2]}, seed++);
    const Tensor b = random_tensor(Shape{k.cout}, seed++);
    const Shape out = cpu::Conv3d(wt, b, k.params).output_shape(x.shape());
    const Tensor dy = random_tensor(out, seed++);
    const Reference f = [&](const std::vector<Values>& v) {  // x, weight, bias
      Values y(static_cast<size_t>(out.numel()));
      for (int64_t b0 = 0; b0 < n; ++b0)
        for (int64_t od = 0; od < out[1]; ++od)
          for (int64_t oh = 0; oh < out[2]; ++oh)
            for (int64_t ow = 0; ow < out[3]; ++ow)
              for (int64_t co = 0; co < k.cout; ++co) {
                double acc = v[2][static_cast<size_t>(co)];
                for (int64_t ci = 0; ci < cin; ++ci)
                  for (int64_t a = 0; a < k.kernel[0]; ++a)
                    for (int64_t bb = 0; bb < k.kernel[1]; ++bb)
                      for (int64_t c = 0; c < k.kernel[2]; ++c) {
                        const int64_t id = od * k.params.stride[0] - k.params.pad_front[0] + a;
                        const int64_t ih = oh * k.params.stride[1] - k.params.pad_front[1] + bb;
                        const int64_t iw = ow * k.params.stride[2] - k.params.pad_front[2] + c;
                        if (id < 0 || ih < 0 || iw < 0 || id >= d || ih >= h || iw >= w) continue;
                        acc += v[1][static_cast<size_t>((((co * cin + ci) * k.kernel[0] + a) * k.kernel[1] + bb) *
                                                            k.kernel[2] + c)] *
                               v[0][static_cast<size_t>((((b0 * d + id) * h + ih) * w + iw) * cin + ci)];
                      }
                y[static_cast<size_t>((((b0 * out[1] + od) * out[2] + oh) * out[3] + ow) * k.cout + co)] = acc;
              }
      return y;
    };
    // The reference is the forward: the test's own convolution agrees with oneDNN's first.
    const std::vector<Values> inputs{to_double(x), to_double(wt), to_double(b)};
    EXPECT_LT(rel_l2(cpu::conv3d(x, wt, b, k.params), f(inputs)), 1e-6);
    const Tensor dw_before = random_tensor(wt.shape(), seed++), db_before = random_tensor(Shape{k.cout}, seed++);
    Tensor dw = dw_before.clone(), db = db_before.clone();
    const Tensor dx = cpu::conv3d_backward(x, wt, k.params, dy, &dw, &db);
    EXPECT_LT(rel_l2(dx, numeric_grad(f, inputs, 0, to_double(dy))), kTolerance);
    EXPECT_LT(rel_l2(added(dw, dw_before), numeric_grad(f, inputs, 1, to_double(dy))), kTolerance);
    EXPECT_LT(rel_l2(added(db, db_before), numeric_grad(f, inputs, 2, to_double(dy))), kTolerance);
  }
  const Tensor x = random_tensor(Shape{1, 2, 3, 3, 2}, 1);
  const Tensor wt = random_tensor(Shape{2, 2, 1, 1, 1}, 2);
  EXPECT_THROW(cpu::conv3d_backward(x, wt, cpu::Conv3dParams{}, random_tensor(Shape{1, 2, 3, 3, 3}, 3)), Error);
}

// The Video-VAE's shuffles, channel duplication and averaging and nearest
// upsampling are linear maps, so a correct backward is exactly the adjoint:
// <dy, f(x)> = <backward(dy), x> for every x and dy (per element, this is what
// central differences of a linear map measure). Three random pairs each, in
// double; a wrong index or a missing sum makes them differ at O(1).
TEST(OpsBackward, ShufflesAndUpsamplingAreAdjoint) {
  using Forward = std::function<Tensor(const Tensor&)>;
  using Backward = std::function<Tensor(const Tensor&)>;
  struct Case {
    const char* name;
    Shape in;
    Forward f;
    Backward b;
  };
  const Shape dup_in{1, 2, 2, 3, 4}, unshuffle_in{2, 3, 4, 2, 3}, avg_in{1, 3, 4, 4, 2}, up_in{1, 2, 3, 2, 3};
  const std::vector<Case> cases{
      {"pixel_shuffle3d", Shape{2, 2, 2, 3, 16}, [](const Tensor& x) { return ops::pixel_shuffle3d(x, 2); },
       [](const Tensor& g) { return ops::pixel_shuffle3d_backward(g, 2); }},
      {"channel_dup_shuffle3d", dup_in, [](const Tensor& x) { return ops::channel_dup_shuffle3d(x, 4, 2); },
       [](const Tensor& g) { return ops::channel_dup_shuffle3d_backward(g, 4, 2); }},
      {"pixel_unshuffle3d", unshuffle_in, [](const Tensor& x) { return ops::pixel_unshuffle3d(x, 2); },
       [&](const Tensor& g) { return ops::pixel_unshuffle3d_backward(g, unshuffle_in, 2); }},
      {"channel_avg_unshuffle3d", avg_in, [](const Tensor& x) { return ops::channel_avg_unshuffle3d(x, 4, 2); },
       [&](const Tensor& g) { return ops::channel_avg_unshuffle3d_backward(g, avg_in, 2); }},
      {"upsample_nearest3d", up_in, [](const Tensor& x) { return ops::upsample_nearest3d(x, 2, 1, 3); },
       [&](const Tensor& g) { return ops::upsample_nearest3d_backward(g, up_in, 2, 1, 3); }},
  };
  uint64_t seed = 200;
  for (const Case& c : cases) {
    for (int trial = 0; trial < 3; ++trial) {
      const Tensor x = random_tensor(c.in, seed++);
      const Tensor y = c.f(x);
      const Tensor dy = random_tensor(y.shape(), seed++);
      const Tensor dx = c.b(dy);
      ASSERT_EQ(dx.shape(), x.shape()) << c.name;
      double lhs = 0, rhs = 0, scale = 0;
      for (int64_t i = 0; i < y.numel(); ++i) {
        lhs += static_cast<double>(dy.data<float>()[i]) * y.data<float>()[i];
        scale += std::fabs(static_cast<double>(dy.data<float>()[i]) * y.data<float>()[i]);
      }
      for (int64_t i = 0; i < x.numel(); ++i) rhs += static_cast<double>(dx.data<float>()[i]) * x.data<float>()[i];
      EXPECT_LT(std::fabs(lhs - rhs), 1e-6 * scale) << c.name << " trial " << trial << ": " << lhs << " vs " << rhs;
    }
  }
}

// The Video-VAE's mid-block attention (issue 17): single head, token causal,
// from the start (q_offset 0) and for the last queries against a longer cache.
TEST(OpsBackward, CausalAttentionFromTheStartAndAgainstACache) {
  constexpr int64_t b = 2, d = 3, sk = 5;
  constexpr float scale = 0.7f;
  for (const int64_t q_offset : {int64_t{0}, int64_t{2}}) {
    const int64_t sq = sk - q_offset;
    const Tensor q = random_tensor(Shape{b, sq, d}, 300 + q_offset), k = random_tensor(Shape{b, sk, d}, 301);
    const Tensor v = random_tensor(Shape{b, sk, d}, 302), dout = random_tensor(Shape{b, sq, d}, 303);
    const Reference f = [&](const std::vector<Values>& in) {  // q, k, v
      Values y(static_cast<size_t>(b * sq * d), 0.0);
      for (int64_t bi = 0; bi < b; ++bi) {
        for (int64_t i = 0; i < sq; ++i) {
          std::vector<double> p;
          double max = -1e300, sum = 0;
          for (int64_t j = 0; j <= q_offset + i; ++j) {
            double s = 0;
            for (int64_t c = 0; c < d; ++c) s += in[0][(bi * sq + i) * d + c] * in[1][(bi * sk + j) * d + c];
            p.push_back(s * scale);
            max = std::max(max, p.back());
          }
          for (double& x : p) sum += x = std::exp(x - max);
          for (size_t j = 0; j < p.size(); ++j) {
            for (int64_t c = 0; c < d; ++c) {
              y[(bi * sq + i) * d + c] += p[j] / sum * in[2][(bi * sk + static_cast<int64_t>(j)) * d + c];
            }
          }
        }
      }
      return y;
    };
    const std::vector<Values> inputs{to_double(q), to_double(k), to_double(v)};
    EXPECT_LT(rel_l2(ops::causal_attention(q, k, v, q_offset, scale), f(inputs)), 1e-5);
    const ops::CausalAttentionGrads g = ops::causal_attention_backward(q, k, v, q_offset, scale, dout);
    EXPECT_LT(rel_l2(g.dq, numeric_grad(f, inputs, 0, to_double(dout))), kTolerance) << "q_offset " << q_offset;
    EXPECT_LT(rel_l2(g.dk, numeric_grad(f, inputs, 1, to_double(dout))), kTolerance) << "q_offset " << q_offset;
    EXPECT_LT(rel_l2(g.dv, numeric_grad(f, inputs, 2, to_double(dout))), kTolerance) << "q_offset " << q_offset;
  }
}

TEST(OpsBackward, ModulateIntoRowsOfTheModulationTable) {
  constexpr int64_t batch = 2, seq = 5, d = 8;
  const Tensor x = random_tensor(Shape{batch, seq, d}, 30);
  // shift and scale are rows 0 and 1 of a [B, 6, D] table, as in the DiT blocks;
  // their gradients land in the same rows of the table's gradient.
  const Tensor table = random_tensor(Shape{batch, 6, d}, 31);
  const Tensor shift = table.select(1, 0), scale = table.select(1, 1);
  const Tensor dy = random_tensor(Shape{batch, seq, d}, 32);
  const Tensor dtable_before = random_tensor(Shape{batch, 6, d}, 33);
  Tensor dtable = dtable_before.clone();
  Tensor dshift = dtable.select(1, 0), dscale = dtable.select(1, 1);
  const Tensor dx = ops::modulate_backward(x, scale, dy, dshift, dscale);

  const Reference f = [&](const std::vector<Values>& in) {  // x, shift [B, D], scale [B, D]
    Values y(in[0].size());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < seq; ++s)
        for (int64_t i = 0; i < d; ++i) {
          const int64_t at = (b * seq + s) * d + i;
          y[at] = in[0][at] * (1.0 + in[2][b * d + i]) + in[1][b * d + i];
        }
    return y;
  };
  const std::vector<Values> inputs{to_double(x), to_double(shift), to_double(scale)};
  const Tensor grown = added(dtable, dtable_before);
  EXPECT_LT(rel_l2(dx, numeric_grad(f, inputs, 0, to_double(dy))), kTolerance);
  EXPECT_LT(rel_l2(grown.select(1, 0), numeric_grad(f, inputs, 1, to_double(dy))), kTolerance);
  EXPECT_LT(rel_l2(grown.select(1, 1), numeric_grad(f, inputs, 2, to_double(dy))), kTolerance);
  for (int64_t row = 2; row < 6; ++row) {  // the other rows untouched
    EXPECT_EQ(rel_l2(grown.select(1, row), Values(static_cast<size_t>(batch * d), 0.0)), 0.0) << "row " << row;
  }
}

TEST(OpsBackward, GatedResidualWithAndWithoutGate) {
  constexpr int64_t batch = 2, seq = 4, d = 8;
  const Tensor y = random_tensor(Shape{batch, seq, d}, 40);
  const Tensor gate = random_tensor(Shape{batch, d}, 41);
  const Tensor dout = random_tensor(Shape{batch, seq, d}, 42);
  const Reference f = [&](const std::vector<Values>& in) {  // x, y, gate: x + gate * y
    Values out(in[0].size());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < seq; ++s)
        for (int64_t i = 0; i < d; ++i) {
          const int64_t at = (b * seq + s) * d + i;
          out[at] = in[0][at] + in[2][b * d + i] * in[1][at];
        }
    return out;
  };
  const Tensor dgate_before = random_tensor(Shape{batch, d}, 43);
  Tensor dgate = dgate_before.clone();
  const Tensor dy = ops::gated_residual_backward(y, gate, dout, &dgate);
  const std::vector<Values> inputs{to_double(random_tensor(Shape{batch, seq, d}, 44)), to_double(y), to_double(gate)};
  // The residual passes the gradient through: d/dx is dout itself.
  EXPECT_LT(rel_l2(dout, numeric_grad(f, inputs, 0, to_double(dout))), kTolerance);
  EXPECT_LT(rel_l2(dy, numeric_grad(f, inputs, 1, to_double(dout))), kTolerance);
  EXPECT_LT(rel_l2(added(dgate, dgate_before), numeric_grad(f, inputs, 2, to_double(dout))), kTolerance);

  const Tensor dy_plain = ops::gated_residual_backward(y, Tensor(), dout);
  EXPECT_EQ(rel_l2(dy_plain, to_double(dout)), 0.0);
}

TEST(OpsBackward, GeluTanhAndSilu) {
  // Wide inputs: the tails (|x| ~ 6) and the bend near 0 both matter.
  const Tensor x = random_tensor(Shape{3, 40}, 50, 2.5f);
  const Tensor dy = random_tensor(Shape{3, 40}, 51);
  const Reference gelu = [](const std::vector<Values>& in) {
    Values y(in[0].size());
    for (size_t i = 0; i < y.size(); ++i) {
      const double v = in[0][i];
      y[i] = 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    }
    return y;
  };
  const Reference silu = [](const std::vector<Values>& in) {
    Values y(in[0].size());
    for (size_t i = 0; i < y.size(); ++i) y[i] = in[0][i] / (1.0 + std::exp(-in[0][i]));
    return y;
  };
  EXPECT_LT(rel_l2(ops::gelu_tanh_backward(x, dy), numeric_grad(gelu, {to_double(x)}, 0, to_double(dy))), kTolerance);
  EXPECT_LT(rel_l2(ops::silu_backward(x, dy), numeric_grad(silu, {to_double(x)}, 0, to_double(dy))), kTolerance);
}

TEST(OpsBackward, PatchifyAndUnpatchifyForEveryPatchSize) {
  constexpr int64_t batch = 2, frames = 2, ch = 3;
  for (const int64_t p : {1, 2}) {
    const int64_t h = 2 * p, w = 3 * p, hp = h / p, wp = w / p, vec = ch * p * p;
    const int64_t tokens = frames * hp * wp;
    // The double reference of each op: where every token element comes from.
    const auto source = [&](int64_t n, int64_t i, int64_t j, int64_t k, bool channel_major) {
      const int64_t c = channel_major ? k / (p * p) : k % ch;
      const int64_t ki = channel_major ? (k / p) % p : k / (p * ch);
      const int64_t kj = channel_major ? k % p : (k / ch) % p;
      return ((n * ch + c) * h + i * p + ki) * w + j * p + kj;
    };
    const auto gather = [&](bool channel_major) {
      return Reference([&, channel_major](const std::vector<Values>& in) {
        Values y(static_cast<size_t>(batch * tokens * vec));
        for (int64_t n = 0; n < batch * frames; ++n)
          for (int64_t i = 0; i < hp; ++i)
            for (int64_t j = 0; j < wp; ++j)
              for (int64_t k = 0; k < vec; ++k) {
                y[static_cast<size_t>(((n * hp + i) * wp + j) * vec + k)] =
                    in[0][static_cast<size_t>(source(n, i, j, k, channel_major))];
              }
        return y;
      });
    };
    const Tensor video = random_tensor(Shape{batch, frames, ch, h, w}, 90);
    const Tensor dtokens = random_tensor(Shape{batch, tokens, vec}, 91);
    // patchify: video -> tokens (c, ki, kj).
    EXPECT_LT(rel_l2(ops::patchify(video, p), gather(true)({to_double(video)})), 1e-7) << "p=" << p;
    EXPECT_LT(rel_l2(ops::patchify_backward(dtokens, frames, ch, h, w, p),
                     numeric_grad(gather(true), {to_double(video)}, 0, to_double(dtokens))),
              kTolerance)
        << "p=" << p;
    // unpatchify: tokens (ki, kj, c) -> video, the inverse of the (ki, kj, c) gather.
    const Tensor dvideo = random_tensor(Shape{batch, frames, ch, h, w}, 92);
    const Reference scatter = [&](const std::vector<Values>& in) {
      const Tensor t = Tensor::empty(Shape{batch, tokens, vec}, DType::F32);
      for (size_t i = 0; i < in[0].size(); ++i) t.data<float>()[i] = static_cast<float>(in[0][i]);
      return to_double(ops::unpatchify(t, frames, hp, wp, p, ch));
    };
    EXPECT_EQ(rel_l2(ops::unpatchify_backward(dvideo, p), gather(false)({to_double(dvideo)})), 0.0) << "p=" << p;
    // A move of elements: differences of +-1 (exact in float) give the gradient exactly.
    Values numeric(static_cast<size_t>(batch * tokens * vec));
    std::vector<Values> in{to_double(dtokens)};
    for (size_t i = 0; i < numeric.size(); ++i) {
      const double keep = in[0][i];
      in[0][i] = keep + 1.0;
      const Values up = scatter(in);
      in[0][i] = keep - 1.0;
      const Values down = scatter(in);
      in[0][i] = keep;
      double s = 0.0;
      const Values g = to_double(dvideo);
      for (size_t j = 0; j < g.size(); ++j) s += g[j] * (up[j] - down[j]);
      numeric[i] = s / 2.0;
    }
    EXPECT_LT(rel_l2(ops::unpatchify_backward(dvideo, p), numeric), kTolerance) << "p=" << p;
  }
}

TEST(OpsBackward, Rope3dOnASequenceParallelSlice) {
  // A 2x2x3 grid, head_dim 8 split 4/2/2, the slice of tokens [3, 9) as a
  // sequence-parallel rank holds it.
  const ops::RopeGrid grid{.frames = 2, .rows = 2, .cols = 3};
  const ops::RopeSplit split{.dims = {4, 2, 2}, .theta = 10000.0f};
  constexpr int64_t batch = 2, seq = 6, heads = 2, hd = 8, first = 3;
  const Reference f = [&](const std::vector<Values>& in) {
    Values y(in[0].size());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < seq; ++s) {
        const int64_t t = first + s;
        const int64_t pos[3] = {t / (grid.rows * grid.cols), (t / grid.cols) % grid.rows, t % grid.cols};
        for (int64_t h = 0; h < heads; ++h) {
          const int64_t base = ((b * seq + s) * heads + h) * hd;
          int64_t offset = 0;
          for (int part = 0; part < 3; ++part) {
            const int64_t dim = split.dims[static_cast<size_t>(part)], half = dim / 2;
            for (int64_t k = 0; k < half; ++k) {
              const double angle = static_cast<double>(pos[part]) * std::pow(10000.0, -2.0 * k / dim);
              const double lo = in[0][base + offset + k], hi = in[0][base + offset + half + k];
              y[base + offset + k] = lo * std::cos(angle) - hi * std::sin(angle);
              y[base + offset + half + k] = hi * std::cos(angle) + lo * std::sin(angle);
            }
            offset += dim;
          }
        }
      }
    return y;
  };
  const Tensor x = random_tensor(Shape{batch, seq, heads, hd}, 100);
  Tensor rotated = x.clone();
  ops::rope3d_(rotated, grid, first, split);
  EXPECT_LT(rel_l2(rotated, f({to_double(x)})), 1e-6);  // the reference computes the op's forward
  const Tensor dy = random_tensor(Shape{batch, seq, heads, hd}, 101);
  Tensor dx = dy.clone();
  ops::rope3d_backward_(dx, grid, first, split);
  EXPECT_LT(rel_l2(dx, numeric_grad(f, {to_double(x)}, 0, to_double(dy))), kTolerance);
}

TEST(OpsBackward, SplitHeadsPutsEveryPartBack) {
  constexpr int64_t batch = 2, seq = 3, heads = 2, parts = 3, d = 4;
  const Tensor fused = random_tensor(Shape{batch, seq, heads * parts * d}, 110);
  std::vector<Tensor> dparts;
  Values dy;  // the parts' gradients, concatenated in part order
  for (int64_t k = 0; k < parts; ++k) {
    dparts.push_back(random_tensor(Shape{batch, seq, heads, d}, 111 + static_cast<uint64_t>(k)));
    const Values v = to_double(dparts.back());
    dy.insert(dy.end(), v.begin(), v.end());
  }
  // The double reference: every part's element read from the fused feature h*parts*d + k*d + i.
  const Reference f = [&](const std::vector<Values>& in) {
    Values y;
    for (int64_t k = 0; k < parts; ++k)
      for (int64_t r = 0; r < batch * seq; ++r)
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t i = 0; i < d; ++i) y.push_back(in[0][(r * heads + h) * parts * d + k * d + i]);
    return y;
  };
  EXPECT_LT(rel_l2(ops::split_heads_backward(dparts), numeric_grad(f, {to_double(fused)}, 0, dy)), kTolerance);
}

// Attention in double: q [B, Sq, H, d], k and v [B, Sk, H, d] flattened,
// row b attending keys [0, lens[b]).
struct AttentionShape {
  int64_t batch, sq, sk, heads, d;
  std::vector<int64_t> lens;
};

Values attention_ref(const AttentionShape& a, const Values& q, const Values& k, const Values& v, double scale) {
  Values out(q.size(), 0.0);
  for (int64_t b = 0; b < a.batch; ++b)
    for (int64_t h = 0; h < a.heads; ++h)
      for (int64_t i = 0; i < a.sq; ++i) {
        const int64_t n = a.lens[static_cast<size_t>(b)];
        Values s(static_cast<size_t>(n));
        double m = -1e300, sum = 0.0;
        for (int64_t j = 0; j < n; ++j) {
          double dot = 0.0;
          for (int64_t c = 0; c < a.d; ++c) {
            dot += q[((b * a.sq + i) * a.heads + h) * a.d + c] * k[((b * a.sk + j) * a.heads + h) * a.d + c];
          }
          s[static_cast<size_t>(j)] = dot * scale;
          m = std::max(m, dot * scale);
        }
        for (double& x : s) sum += (x = std::exp(x - m));
        for (int64_t j = 0; j < n; ++j)
          for (int64_t c = 0; c < a.d; ++c) {
            out[((b * a.sq + i) * a.heads + h) * a.d + c] +=
                s[static_cast<size_t>(j)] / sum * v[((b * a.sk + j) * a.heads + h) * a.d + c];
          }
      }
  return out;
}

TEST(OpsBackward, AttentionWithAPrefixMask) {
  const AttentionShape a{.batch = 2, .sq = 5, .sk = 7, .heads = 2, .d = 4, .lens = {7, 3}};
  const float scale = 0.5f;
  const Tensor q = random_tensor(Shape{a.batch, a.sq, a.heads, a.d}, 120);
  const Tensor k = random_tensor(Shape{a.batch, a.sk, a.heads, a.d}, 121);
  const Tensor v = random_tensor(Shape{a.batch, a.sk, a.heads, a.d}, 122);
  const Tensor dout = random_tensor(q.shape(), 123);
  // Both ways of getting the rows' log-sum-exp: recomputed, or saved by the forward.
  Tensor lse;
  const Tensor out = ops::attention(q, k, v, a.lens, scale, &lse);
  const ops::AttentionGrads recomputed = ops::attention_backward(q, k, v, out, dout, a.lens, scale);
  const ops::AttentionGrads g = ops::attention_backward(q, k, v, out, dout, a.lens, scale, &lse);
  const Reference f = [&](const std::vector<Values>& in) { return attention_ref(a, in[0], in[1], in[2], scale); };
  const std::vector<Values> inputs{to_double(q), to_double(k), to_double(v)};
  for (const ops::AttentionGrads* each : {&recomputed, &g}) {
    EXPECT_LT(rel_l2(each->dq, numeric_grad(f, inputs, 0, to_double(dout))), kTolerance);
    EXPECT_LT(rel_l2(each->dk, numeric_grad(f, inputs, 1, to_double(dout))), kTolerance);
    EXPECT_LT(rel_l2(each->dv, numeric_grad(f, inputs, 2, to_double(dout))), kTolerance);
  }
  // Masked keys of row 1 (from 3 on) get no gradient.
  for (int64_t j = 3; j < a.sk; ++j) {
    EXPECT_EQ(rel_l2(g.dk.select(0, 1).select(0, j), Values(static_cast<size_t>(a.heads * a.d), 0.0)), 0.0);
    EXPECT_EQ(rel_l2(g.dv.select(0, 1).select(0, j), Values(static_cast<size_t>(a.heads * a.d), 0.0)), 0.0);
  }
}

TEST(OpsBackward, AttentionAcrossSeveralQueryAndKeyBlocks) {
  // 70 queries (two query blocks of 64) and 600 keys (two key blocks of 512):
  // finite differences at this size would take minutes, so the gradients are
  // compared with the textbook formulas evaluated in double (the op itself
  // meets finite differences in AttentionWithAPrefixMask).
  const AttentionShape a{.batch = 1, .sq = 70, .sk = 600, .heads = 2, .d = 8, .lens = {590}};
  const float scale = 1.0f / std::sqrt(8.0f);
  const Tensor q = random_tensor(Shape{a.batch, a.sq, a.heads, a.d}, 130);
  const Tensor k = random_tensor(Shape{a.batch, a.sk, a.heads, a.d}, 131);
  const Tensor v = random_tensor(Shape{a.batch, a.sk, a.heads, a.d}, 132);
  const Tensor dout = random_tensor(q.shape(), 133);
  Tensor lse;
  const Tensor out = ops::attention(q, k, v, a.lens, scale, &lse);
  const ops::AttentionGrads g = ops::attention_backward(q, k, v, out, dout, a.lens, scale, &lse);
  const Values qd = to_double(q), kd = to_double(k), vd = to_double(v), gd = to_double(dout);
  Values dq(qd.size(), 0.0), dk(kd.size(), 0.0), dv(vd.size(), 0.0);
  const auto at_q = [&](int64_t i, int64_t h, int64_t c) { return static_cast<size_t>((i * a.heads + h) * a.d + c); };
  for (int64_t h = 0; h < a.heads; ++h)
    for (int64_t i = 0; i < a.sq; ++i) {
      const int64_t n = a.lens[0];
      Values p(static_cast<size_t>(n)), dp(static_cast<size_t>(n));
      double m = -1e300, sum = 0.0, delta = 0.0;
      for (int64_t j = 0; j < n; ++j) {
        double dot = 0.0, dpj = 0.0;
        for (int64_t c = 0; c < a.d; ++c) {
          dot += qd[at_q(i, h, c)] * kd[at_q(j, h, c)];
          dpj += gd[at_q(i, h, c)] * vd[at_q(j, h, c)];
        }
        p[static_cast<size_t>(j)] = dot * scale;
        dp[static_cast<size_t>(j)] = dpj;
        m = std::max(m, dot * scale);
      }
      for (double& x : p) sum += (x = std::exp(x - m));
      for (double& x : p) x /= sum;
      for (int64_t j = 0; j < n; ++j) delta += p[static_cast<size_t>(j)] * dp[static_cast<size_t>(j)];
      for (int64_t j = 0; j < n; ++j) {
        const double ds = p[static_cast<size_t>(j)] * (dp[static_cast<size_t>(j)] - delta);
        for (int64_t c = 0; c < a.d; ++c) {
          dv[at_q(j, h, c)] += p[static_cast<size_t>(j)] * gd[at_q(i, h, c)];
          dq[at_q(i, h, c)] += scale * ds * kd[at_q(j, h, c)];
          dk[at_q(j, h, c)] += scale * ds * qd[at_q(i, h, c)];
        }
      }
    }
  EXPECT_LT(rel_l2(g.dq, dq), kTolerance);
  EXPECT_LT(rel_l2(g.dk, dk), kTolerance);
  EXPECT_LT(rel_l2(g.dv, dv), kTolerance);
}

TEST(OpsBackward, MismatchedGradientIsRefusedWithTheShapes) {
  const Tensor x = random_tensor(Shape{2, 8}, 60);
  try {
    (void)ops::silu_backward(x, random_tensor(Shape{2, 9}, 61));
    FAIL() << "a gradient of another shape was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("silu_backward"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 9]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sv
