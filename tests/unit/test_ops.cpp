// Every CPU op against a straightforward double-precision reference.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/gemm.h"
#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/layer_norm.h"
#include "ops/linear.h"
#include "ops/modulate.h"
#include "ops/patchify.h"
#include "ops/rms_norm.h"
#include "ops/rope3d.h"
#include "ops/split_heads.h"
#include "ops/timestep_embedding.h"
#include "test_util.h"

namespace sv {
namespace {

using test::max_abs_err;
using test::random_tensor;
using test::rel_l2;

TEST(Ops, LinearMatchesDoubleReference) {
  for (auto [rows, in, out] : {std::tuple{1, 1, 1}, {7, 33, 65}, {130, 257, 96}}) {
    const Tensor x = random_tensor(Shape{rows, in}, 1);
    const Tensor w = random_tensor(Shape{out, in}, 2);
    const Tensor b = random_tensor(Shape{out}, 3);
    const Tensor y = ops::linear(x, w, b);
    std::vector<double> ref(static_cast<size_t>(rows * out));
    for (int r = 0; r < rows; ++r) {
      for (int o = 0; o < out; ++o) {
        double s = b.data<float>()[o];
        for (int i = 0; i < in; ++i) s += double(x.data<float>()[r * in + i]) * w.data<float>()[o * in + i];
        ref[static_cast<size_t>(r * out + o)] = s;
      }
    }
    EXPECT_LT(rel_l2(y, ref), 1e-6) << rows << "x" << in << "x" << out;
  }
}

TEST(Ops, SgemmTransposesAndAccumulates) {
  const int m = 37, n = 41, k = 29;
  const Tensor a = random_tensor(Shape{k, m}, 4);  // stored transposed
  const Tensor b = random_tensor(Shape{k, n}, 5);
  Tensor c = random_tensor(Shape{m, n}, 6);
  std::vector<double> ref = test::to_double(c);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int p = 0; p < k; ++p) s += double(a.data<float>()[p * m + i]) * b.data<float>()[p * n + j];
      ref[static_cast<size_t>(i * n + j)] = 0.5 * s + ref[static_cast<size_t>(i * n + j)];
    }
  }
  cpu::sgemm(true, false, m, n, k, 0.5f, a.data<float>(), m, b.data<float>(), n, 1.0f,
             c.data<float>(), n);
  EXPECT_LT(rel_l2(c, ref), 1e-6);
}

TEST(Ops, LayerNormWithAndWithoutAffine) {
  const Tensor x = random_tensor(Shape{5, 3, 96}, 7, 3.0f);
  // Shift rows far from zero: a one-pass variance would lose digits here.
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] += 100.0f;
  const Tensor w = random_tensor(Shape{96}, 8), b = random_tensor(Shape{96}, 9);
  for (bool affine : {false, true}) {
    const Tensor y = ops::layer_norm(x, affine ? w : Tensor(), affine ? b : Tensor(), 1e-5f);
    std::vector<double> ref(static_cast<size_t>(x.numel()));
    for (int64_t r = 0; r < 15; ++r) {
      double mean = 0, var = 0;
      for (int i = 0; i < 96; ++i) mean += x.data<float>()[r * 96 + i];
      mean /= 96;
      for (int i = 0; i < 96; ++i) var += std::pow(x.data<float>()[r * 96 + i] - mean, 2);
      var /= 96;
      for (int i = 0; i < 96; ++i) {
        double v = (x.data<float>()[r * 96 + i] - mean) / std::sqrt(var + 1e-5);
        if (affine) v = v * w.data<float>()[i] + b.data<float>()[i];
        ref[static_cast<size_t>(r * 96 + i)] = v;
      }
    }
    EXPECT_LT(rel_l2(y, ref), 1e-6) << "affine=" << affine;
  }
}

TEST(Ops, RmsNorm) {
  Tensor x = random_tensor(Shape{4, 6, 128}, 10);
  const Tensor w = random_tensor(Shape{128}, 11);
  std::vector<double> ref(static_cast<size_t>(x.numel()));
  for (int64_t r = 0; r < 24; ++r) {
    double ms = 0;
    for (int i = 0; i < 128; ++i) ms += std::pow(x.data<float>()[r * 128 + i], 2);
    ms /= 128;
    for (int i = 0; i < 128; ++i) {
      ref[static_cast<size_t>(r * 128 + i)] =
          x.data<float>()[r * 128 + i] / std::sqrt(ms + 1e-6) * w.data<float>()[i];
    }
  }
  ops::rms_norm_(x, w, 1e-6f);
  EXPECT_LT(rel_l2(x, ref), 1e-6);
}

TEST(Ops, GeluTanhAndSilu) {
  Tensor g = random_tensor(Shape{1000}, 12, 4.0f);
  Tensor s = g.clone();
  std::vector<double> rg, rs;
  for (double v : test::to_double(g)) {
    rg.push_back(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
    rs.push_back(v / (1 + std::exp(-v)));
  }
  ops::gelu_tanh_(g);
  ops::silu_(s);
  EXPECT_LT(max_abs_err(g, rg), 2e-6);
  EXPECT_LT(rel_l2(g, rg), 1e-6);
  EXPECT_LT(rel_l2(s, rs), 1e-6);
}

TEST(Ops, TimestepEmbeddingIsCosThenSin) {
  const Tensor t = Tensor::from_vector<float>({0.0f, 0.25f, 0.9f}, Shape{3});
  const Tensor e = ops::timestep_embedding(t, 256);
  std::vector<double> ref;
  for (double tv : {0.0, 0.25, 0.9}) {
    std::vector<double> c, s;
    for (int k = 0; k < 128; ++k) {
      const double arg = 1000.0 * tv * std::exp(-std::log(10000.0) * k / 128.0);
      c.push_back(std::cos(arg));
      s.push_back(std::sin(arg));
    }
    ref.insert(ref.end(), c.begin(), c.end());
    ref.insert(ref.end(), s.begin(), s.end());
  }
  // Arguments reach 900 rad: f32 rounding of the argument alone is ~3e-5 absolute.
  EXPECT_LT(max_abs_err(e, ref), 2e-4);
  EXPECT_EQ(e.data<float>()[0], 1.0f);    // cos(0)
  EXPECT_EQ(e.data<float>()[128], 0.0f);  // sin(0)
}

// rope3d_ against its definition in double: per axis, the pairs (k, k + half) of
// that axis's part rotated by pos * 10000^(-2k/part), for a head of head_dim
// split as `dims` (given explicitly: the test does not trust for_head_dim).
void check_rope3d(int64_t head_dim, const int (&dims)[3]) {
  const ops::RopeGrid grid{3, 2, 5};
  const ops::RopeSplit split = ops::RopeSplit::for_head_dim(head_dim);
  ASSERT_EQ(split.dims[0], dims[0]);
  ASSERT_EQ(split.dims[1], dims[1]);
  ASSERT_EQ(split.dims[2], dims[2]);
  Tensor x = random_tensor(Shape{2, grid.tokens(), 3, head_dim}, 13);
  const std::vector<double> in = test::to_double(x);
  std::vector<double> ref(in.size());
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t s = 0; s < grid.tokens(); ++s) {
      const int64_t pos[3] = {s / 10, (s / 5) % 2, s % 5};
      for (int64_t h = 0; h < 3; ++h) {
        const size_t base = static_cast<size_t>(((b * grid.tokens() + s) * 3 + h) * head_dim);
        int off = 0;
        for (int part = 0; part < 3; ++part) {
          const int dd = dims[part], half = dd / 2;
          for (int k = 0; k < dd; ++k) {
            const double theta = pos[part] * std::pow(10000.0, -2.0 * (k % half) / dd);
            const double xk = in[base + static_cast<size_t>(off + k)];
            const double rot = k < half ? -in[base + static_cast<size_t>(off + k + half)]
                                        : in[base + static_cast<size_t>(off + k - half)];
            ref[base + static_cast<size_t>(off + k)] = xk * std::cos(theta) + rot * std::sin(theta);
          }
          off += dd;
        }
      }
    }
  }
  // A slice of tokens rotated with its global offset gives the same values.
  Tensor tail = x.slice(1, 11, grid.tokens()).contiguous();
  ops::rope3d_(x, grid, 0, split);
  EXPECT_LT(rel_l2(x, ref), 1e-6);
  ops::rope3d_(tail, grid, 11, split);
  EXPECT_LT(test::rel_l2(tail, test::to_double(x.slice(1, 11, grid.tokens()))), 1e-7);
}

TEST(Ops, Rope3dRotatesHalvesPerAxis) {
  check_rope3d(128, {64, 32, 32});  // upstream's heads
  // The default split is upstream's.
  EXPECT_EQ(ops::RopeSplit{}.dims, ops::RopeSplit::for_head_dim(128).dims);
}

TEST(Ops, Rope3dKeepsUpstreamsProportionsForSmallerHeads) {
  check_rope3d(64, {32, 16, 16});  // the bundled default model's heads
  check_rope3d(8, {4, 2, 2});
}

// Naive masked attention in double.
std::vector<double> attention_ref(const Tensor& q, const Tensor& k, const Tensor& v,
                                  const std::vector<int64_t>& lens, double scale) {
  const int64_t B = q.dim(0), Sq = q.dim(1), H = q.dim(2), D = q.dim(3), Sk = k.dim(1);
  std::vector<double> out(static_cast<size_t>(q.numel()));
  auto at = [](const Tensor& t, int64_t b, int64_t s, int64_t h, int64_t d) {
    return double(t.data<float>()[((b * t.dim(1) + s) * t.dim(2) + h) * t.dim(3) + d]);
  };
  for (int64_t b = 0; b < B; ++b) {
    const int64_t len = lens.empty() ? Sk : lens[static_cast<size_t>(b)];
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < Sq; ++i) {
        std::vector<double> sc(static_cast<size_t>(len));
        double mx = -1e300;
        for (int64_t j = 0; j < len; ++j) {
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += at(q, b, i, h, d) * at(k, b, j, h, d);
          sc[static_cast<size_t>(j)] = s * scale;
          mx = std::max(mx, s * scale);
        }
        double sum = 0;
        for (auto& s : sc) sum += (s = std::exp(s - mx));
        for (int64_t d = 0; d < D; ++d) {
          double o = 0;
          for (int64_t j = 0; j < len; ++j) o += sc[static_cast<size_t>(j)] * at(v, b, j, h, d);
          out[static_cast<size_t>(((b * Sq + i) * H + h) * D + d)] = o / sum;
        }
      }
    }
  }
  return out;
}

TEST(Ops, AttentionBlockwiseMatchesNaive) {
  // Sizes chosen to cross the query (64) and key (512) block boundaries.
  const Tensor q = random_tensor(Shape{2, 150, 3, 64}, 14, 2.0f);
  const Tensor k = random_tensor(Shape{2, 1100, 3, 64}, 15, 2.0f);
  const Tensor v = random_tensor(Shape{2, 1100, 3, 64}, 16);
  const float scale = 0.125f;
  const Tensor full = ops::attention(q, k, v, {}, scale);
  EXPECT_LT(rel_l2(full, attention_ref(q, k, v, {}, scale)), 2e-6);
  const std::vector<int64_t> lens{1, 777};
  const Tensor masked = ops::attention(q, k, v, lens, scale);
  EXPECT_LT(rel_l2(masked, attention_ref(q, k, v, lens, scale)), 2e-6);
  EXPECT_THROW(ops::attention(q, k, v, std::vector<int64_t>{0, 5}, scale), InternalError);
}

TEST(Ops, ModulateAndGatedResidual) {
  Tensor x = random_tensor(Shape{2, 5, 16}, 17);
  const Tensor y = random_tensor(Shape{2, 5, 16}, 18);
  const Tensor table = random_tensor(Shape{2, 3, 16}, 19);  // rows selected as strided views
  const Tensor shift = table.select(1, 0), scale = table.select(1, 1), gate = table.select(1, 2);
  std::vector<double> ref(static_cast<size_t>(x.numel()));
  for (int b = 0; b < 2; ++b) {
    for (int s = 0; s < 5; ++s) {
      for (int i = 0; i < 16; ++i) {
        const double xv = x.data<float>()[(b * 5 + s) * 16 + i];
        const double m = xv * (1 + table.data<float>()[(b * 3 + 1) * 16 + i]) +
                         table.data<float>()[(b * 3 + 0) * 16 + i];
        ref[static_cast<size_t>((b * 5 + s) * 16 + i)] =
            m + table.data<float>()[(b * 3 + 2) * 16 + i] * y.data<float>()[(b * 5 + s) * 16 + i];
      }
    }
  }
  ops::modulate_(x, shift, scale);
  ops::gated_residual_(x, y, gate);
  EXPECT_LT(rel_l2(x, ref), 1e-6);
}

TEST(Ops, PatchifyUnpatchifyInvert) {
  const Tensor x = random_tensor(Shape{2, 3, 4, 6, 8}, 20);
  const Tensor p = ops::patchify(x, 2);
  ASSERT_EQ(p.shape(), (Shape{2, 3 * 3 * 4, 16}));
  // Token (f=1, i=2, j=3), patch element (c=3, ki=1, kj=0) of batch 1.
  EXPECT_EQ(p.data<float>()[(1 * 36 + 1 * 12 + 2 * 4 + 3) * 16 + (3 * 2 + 1) * 2 + 0],
            x.data<float>()[(((1 * 3 + 1) * 4 + 3) * 6 + 5) * 8 + 6]);
  // unpatchify expects (ki, kj, c) order: reorder p's (c, ki, kj) vectors to it.
  Tensor y = Tensor::empty(p.shape(), DType::F32);
  for (int64_t t = 0; t < p.dim(1) * 2; ++t) {
    for (int c = 0; c < 4; ++c) {
      for (int kk = 0; kk < 4; ++kk) y.data<float>()[t * 16 + kk * 4 + c] = p.data<float>()[t * 16 + c * 4 + kk];
    }
  }
  const Tensor back = ops::unpatchify(y, 3, 3, 4, 2, 4);
  ASSERT_EQ(back.shape(), x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(back.data<float>()[i], x.data<float>()[i]);
}

TEST(Ops, SplitHeadsPerHeadGrouping) {
  const Tensor fused = random_tensor(Shape{1, 2, 2 * 3 * 4}, 21);  // 2 heads, q|k|v of 4
  const std::vector<Tensor> parts = ops::split_heads(fused, 2, 3);
  ASSERT_EQ(parts.size(), 3u);
  // Head 1's k starts at feature 1*12 + 4.
  EXPECT_EQ(parts[1].data<float>()[(0 * 2 + 1) * 4], fused.data<float>()[16]);
  EXPECT_EQ(parts[2].data<float>()[(1 * 2 + 0) * 4 + 3], fused.data<float>()[24 + 8 + 3]);
}

}  // namespace
}  // namespace sv
