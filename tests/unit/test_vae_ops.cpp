// The Video-VAE's ops against straightforward double-precision references.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ops/causal_attention.h"
#include "ops/group_norm.h"
#include "ops/pixel_shuffle3d.h"
#include "test_util.h"

namespace sv {
namespace {

using test::random_tensor;
using test::rel_l2;

std::vector<double> group_norm_ref(const Tensor& x, int64_t groups, const Tensor& w,
                                   const Tensor& b, double eps, bool silu) {
  const int64_t rows = x.dim(0), s = x.dim(1), c = x.dim(2), cg = c / groups;
  const float* xp = x.data<float>();
  std::vector<double> y(static_cast<size_t>(x.numel()));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      double sum = 0, sq = 0;
      for (int64_t p = 0; p < s; ++p)
        for (int64_t i = 0; i < cg; ++i) sum += xp[(r * s + p) * c + g * cg + i];
      const double mean = sum / double(s * cg);
      for (int64_t p = 0; p < s; ++p)
        for (int64_t i = 0; i < cg; ++i) {
          const double d = xp[(r * s + p) * c + g * cg + i] - mean;
          sq += d * d;
        }
      const double inv = 1.0 / std::sqrt(sq / double(s * cg) + eps);
      for (int64_t p = 0; p < s; ++p)
        for (int64_t i = 0; i < cg; ++i) {
          const int64_t ch = g * cg + i;
          const int64_t idx = (r * s + p) * c + ch;
          double v = (xp[idx] - mean) * inv * w.data<float>()[ch] + b.data<float>()[ch];
          if (silu) v = v / (1.0 + std::exp(-v));
          y[static_cast<size_t>(idx)] = v;
        }
    }
  }
  return y;
}

TEST(VaeOps, GroupNormMatchesDoubleReference) {
  for (auto [rows, s, c, groups] : {std::tuple{1, 1, 32, 32}, {3, 50, 64, 32}, {2, 300, 96, 8}}) {
    for (bool silu : {false, true}) {
      Tensor x = random_tensor(Shape{rows, s, c}, 11, 2.0f);
      // A large common offset: variance by E[x^2] - E[x]^2 in f32 would fail here.
      for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] += 50.0f;
      Tensor w = random_tensor(Shape{c}, 12, 0.1f);
      for (int64_t i = 0; i < c; ++i) w.data<float>()[i] += 1.0f;
      const Tensor b = random_tensor(Shape{c}, 13, 0.1f);
      const Tensor y = ops::group_norm(x, groups, w, b, 1e-5f, silu);
      EXPECT_LT(rel_l2(y, group_norm_ref(x, groups, w, b, 1e-5, silu)), 1e-6)
          << rows << "x" << s << "x" << c << " groups " << groups << " silu " << silu;
    }
  }
}

TEST(VaeOps, GroupNormRejectsIndivisibleChannels) {
  const Tensor x = random_tensor(Shape{1, 4, 30}, 1);
  EXPECT_THROW(ops::group_norm(x, 32, Tensor(), Tensor(), 1e-5f, false), Error);
}

std::vector<double> causal_attention_ref(const Tensor& q, const Tensor& k, const Tensor& v,
                                         int64_t q_offset, double scale) {
  const int64_t batch = q.dim(0), sq = q.dim(1), d = q.dim(2), sk = k.dim(1);
  std::vector<double> out(static_cast<size_t>(q.numel()));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < sq; ++i) {
      const int64_t visible = q_offset + i + 1;
      std::vector<double> s(static_cast<size_t>(visible));
      double m = -1e300;
      for (int64_t j = 0; j < visible; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < d; ++c)
          dot +=
              double(q.data<float>()[(b * sq + i) * d + c]) * k.data<float>()[(b * sk + j) * d + c];
        s[static_cast<size_t>(j)] = dot * scale;
        m = std::max(m, dot * scale);
      }
      double z = 0;
      for (double& e : s) z += (e = std::exp(e - m));
      for (int64_t c = 0; c < d; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < visible; ++j)
          acc += s[static_cast<size_t>(j)] * v.data<float>()[(b * sk + j) * d + c];
        out[static_cast<size_t>((b * sq + i) * d + c)] = acc / z;
      }
    }
  }
  return out;
}

TEST(VaeOps, CausalAttentionMatchesDoubleReference) {
  // 700 tokens cross both the 64-query and the 512-key block boundaries.
  for (auto [batch, s, d] : {std::tuple{1, 1, 8}, {2, 70, 16}, {1, 700, 32}}) {
    const Tensor q = random_tensor(Shape{batch, s, d}, 21);
    const Tensor k = random_tensor(Shape{batch, s, d}, 22);
    const Tensor v = random_tensor(Shape{batch, s, d}, 23);
    const float scale = 1.0f / std::sqrt(float(d));
    const Tensor y = ops::causal_attention(q, k, v, 0, scale);
    EXPECT_LT(rel_l2(y, causal_attention_ref(q, k, v, 0, scale)), 1e-5) << batch << "x" << s;
  }
}

TEST(VaeOps, CausalAttentionWithQueryOffsetIsTheTailOfTheFullResult) {
  const int64_t s = 600, d = 16, offset = 530;
  const Tensor q = random_tensor(Shape{1, s, d}, 31);
  const Tensor k = random_tensor(Shape{1, s, d}, 32);
  const Tensor v = random_tensor(Shape{1, s, d}, 33);
  const Tensor tail_q = q.slice(1, offset, s).contiguous();
  const Tensor y = ops::causal_attention(tail_q, k, v, offset, 0.25f);
  EXPECT_LT(rel_l2(y, causal_attention_ref(tail_q, k, v, offset, 0.25)), 1e-5);
  EXPECT_THROW(ops::causal_attention(tail_q, k.slice(1, 0, 100).contiguous(),
                                     v.slice(1, 0, 100).contiguous(), offset, 1.0f),
               Error);
}

// Index helpers for [N, T, H, W, C] tensors.
float at(const Tensor& x, int64_t n, int64_t t, int64_t h, int64_t w, int64_t c) {
  return x.data<float>()[(((n * x.dim(1) + t) * x.dim(2) + h) * x.dim(3) + w) * x.dim(4) + c];
}

TEST(VaeOps, PixelShuffleFollowsTheUpstreamChannelOrder) {
  const int64_t f = 2, c = 3;
  const Tensor x = random_tensor(Shape{2, 2, 3, 2, c * 8}, 41);
  const Tensor y = ops::pixel_shuffle3d(x, f);
  ASSERT_EQ(y.shape(), (Shape{2, 4, 6, 4, c}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t t = 0; t < 4; ++t)
      for (int64_t h = 0; h < 6; ++h)
        for (int64_t w = 0; w < 4; ++w)
          for (int64_t ch = 0; ch < c; ++ch) {
            const int64_t packed = ch * 8 + (t % 2) * 4 + (h % 2) * 2 + (w % 2);
            ASSERT_EQ(at(y, n, t, h, w, ch), at(x, n, t / 2, h / 2, w / 2, packed));
          }
}

TEST(VaeOps, UnshuffleInvertsShuffleAfterTheFirstFrameIsDropped) {
  const Tensor x = random_tensor(Shape{1, 3, 2, 3, 16}, 42);
  const Tensor shuffled = ops::pixel_shuffle3d(x, 2);           // 6 frames
  const Tensor cropped = shuffled.slice(1, 1, 6).contiguous();  // 5 frames, as the decoder
  const Tensor back = ops::pixel_unshuffle3d(cropped, 2);       // one zero frame in front: 3 frames
  ASSERT_EQ(back.shape(), x.shape());
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t w = 0; w < 3; ++w)
        for (int64_t ch = 0; ch < 16; ++ch) {
          const bool padded = t == 0 && (ch % 8) < 4;  // time offset 0 of frame 0
          ASSERT_EQ(at(back, 0, t, h, w, ch), padded ? 0.0f : at(x, 0, t, h, w, ch));
        }
}

TEST(VaeOps, ChannelDuplicationRepeatsEachChannelBeforeShuffling) {
  const int64_t cin = 4, cout = 8;  // R = 8 * 8 / 4 = 16
  const Tensor x = random_tensor(Shape{1, 2, 2, 2, cin}, 43);
  const Tensor y = ops::channel_dup_shuffle3d(x, cout, 2);
  ASSERT_EQ(y.shape(), (Shape{1, 4, 4, 4, cout}));
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t h = 0; h < 4; ++h)
      for (int64_t w = 0; w < 4; ++w)
        for (int64_t ch = 0; ch < cout; ++ch) {
          const int64_t repeated = ch * 8 + (t % 2) * 4 + (h % 2) * 2 + (w % 2);
          ASSERT_EQ(at(y, 0, t, h, w, ch), at(x, 0, t / 2, h / 2, w / 2, repeated / 16));
        }
  // Factor 1: plain repeat_interleave (channel j <- j / R), not tiling.
  const Tensor z = ops::channel_dup_shuffle3d(x, 4 * cin, 1);
  for (int64_t ch = 0; ch < 4 * cin; ++ch)
    ASSERT_EQ(at(z, 0, 1, 1, 0, ch), at(x, 0, 1, 1, 0, ch / 4));
}

TEST(VaeOps, ChannelAveragingMeansConsecutiveUnshuffledChannels) {
  const int64_t cin = 6, cout = 12;  // G = 6 * 8 / 12 = 4
  const Tensor x = random_tensor(Shape{1, 5, 4, 2, cin}, 44);
  const Tensor u = ops::pixel_unshuffle3d(x, 2);
  const Tensor y = ops::channel_avg_unshuffle3d(x, cout, 2);
  ASSERT_EQ(y.shape(), (Shape{1, 3, 2, 1, cout}));
  for (int64_t p = 0; p < y.numel() / cout; ++p)
    for (int64_t o = 0; o < cout; ++o) {
      double sum = 0;
      for (int64_t j = 0; j < 4; ++j) sum += u.data<float>()[p * cin * 8 + o * 4 + j];
      EXPECT_NEAR(y.data<float>()[p * cout + o], sum / 4, 1e-6);
    }
  // Unshuffle channel order: channel c * 8 + a * 4 + b * 2 + d <- (c, 2t + a - 1, 2y + b, 2x + d).
  EXPECT_EQ(at(u, 0, 1, 1, 0, 2 * 8 + 1 * 4 + 0 * 2 + 1), at(x, 0, 2, 2, 1, 2));
  EXPECT_EQ(at(u, 0, 0, 0, 0, 3 * 8 + 0 * 4 + 1 * 2 + 1), 0.0f);
}

TEST(VaeOps, NearestUpsamplingRepeatsFramesAndPixels) {
  const Tensor x = random_tensor(Shape{1, 2, 3, 2, 5}, 45);
  const Tensor y = ops::upsample_nearest3d(x, 2, 2, 2);
  ASSERT_EQ(y.shape(), (Shape{1, 4, 6, 4, 5}));
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t h = 0; h < 6; ++h)
      for (int64_t w = 0; w < 4; ++w)
        for (int64_t c = 0; c < 5; ++c)
          ASSERT_EQ(at(y, 0, t, h, w, c), at(x, 0, t / 2, h / 2, w / 2, c));
  const Tensor z = ops::upsample_nearest3d(x, 1, 2, 2);
  EXPECT_EQ(z.shape(), (Shape{1, 2, 6, 4, 5}));
}

}  // namespace
}  // namespace sv
