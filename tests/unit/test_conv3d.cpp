// sv::cpu::conv3d against a plain double-precision loop nest.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/conv3d.h"
#include "core/error.h"
#include "core/tensor.h"

namespace {

using sv::DType;
using sv::Shape;
using sv::Tensor;
using sv::cpu::Conv3dParams;

Tensor random_tensor(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

// Direct definition of a cross-correlation with zero padding: for each output
// position, sum over the kernel window, skipping taps that fall in the padding.
std::vector<double> reference_conv3d(const Tensor& x, const Tensor& w, const Tensor& b,
                                     const Conv3dParams& p, const Shape& out) {
  const int64_t n_batch = x.dim(0), in_d = x.dim(1), in_h = x.dim(2), in_w = x.dim(3);
  const int64_t cin = x.dim(4), cout = w.dim(0);
  const int64_t kd = w.dim(2), kh = w.dim(3), kw = w.dim(4);
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  std::vector<double> y(static_cast<size_t>(out.numel()));
  size_t idx = 0;
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t od = 0; od < out[1]; ++od)
      for (int64_t oh = 0; oh < out[2]; ++oh)
        for (int64_t ow = 0; ow < out[3]; ++ow)
          for (int64_t co = 0; co < cout; ++co) {
            double acc = b.defined() ? static_cast<double>(b.data<float>()[co]) : 0.0;
            for (int64_t a = 0; a < kd; ++a) {
              const int64_t id = od * p.stride[0] - p.pad_front[0] + a;
              if (id < 0 || id >= in_d) continue;
              for (int64_t c = 0; c < kh; ++c) {
                const int64_t ih = oh * p.stride[1] - p.pad_front[1] + c;
                if (ih < 0 || ih >= in_h) continue;
                for (int64_t e = 0; e < kw; ++e) {
                  const int64_t iw = ow * p.stride[2] - p.pad_front[2] + e;
                  if (iw < 0 || iw >= in_w) continue;
                  const float* xv = xp + (((n * in_d + id) * in_h + ih) * in_w + iw) * cin;
                  for (int64_t ci = 0; ci < cin; ++ci) {
                    const float wv = wp[(((co * cin + ci) * kd + a) * kh + c) * kw + e];
                    acc += static_cast<double>(xv[ci]) * static_cast<double>(wv);
                  }
                }
              }
            }
            y[idx++] = acc;
          }
  return y;
}

void expect_close(const Tensor& got, const std::vector<double>& ref) {
  ASSERT_EQ(static_cast<size_t>(got.numel()), ref.size());
  const float* g = got.data<float>();
  double err2 = 0, ref2 = 0, max_err = 0, max_ref = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(g[i]) - ref[i];
    err2 += d * d;
    ref2 += ref[i] * ref[i];
    max_err = std::max(max_err, std::abs(d));
    max_ref = std::max(max_ref, std::abs(ref[i]));
  }
  ASSERT_GT(max_ref, 0.0);
  EXPECT_LT(std::sqrt(err2 / ref2), 1e-5) << "relative L2 error";
  EXPECT_LT(max_err / max_ref, 1e-5) << "max abs error " << max_err << ", max |ref| " << max_ref;
}

struct Case {
  std::string name;
  Shape input;                    // [N, D, H, W, Cin]
  std::array<int64_t, 4> weight;  // Cout, kD, kH, kW (Cin from the input)
  Conv3dParams params;
  bool bias;
  Shape expected_output;
};

class Conv3dCase : public ::testing::TestWithParam<Case> {};

TEST_P(Conv3dCase, MatchesDoubleReference) {
  const Case& c = GetParam();
  const Tensor x = random_tensor(c.input, 1);
  const Tensor w = random_tensor(
      Shape{c.weight[0], c.input[4], c.weight[1], c.weight[2], c.weight[3]}, 2);
  const Tensor b = c.bias ? random_tensor(Shape{c.weight[0]}, 3) : Tensor();
  const Tensor y = sv::cpu::conv3d(x, w, b, c.params);
  ASSERT_EQ(y.shape(), c.expected_output);
  expect_close(y, reference_conv3d(x, w, b, c.params, y.shape()));
}

Conv3dParams make_params(std::array<int64_t, 3> stride, std::array<int64_t, 3> front,
                         std::array<int64_t, 3> back) {
  Conv3dParams p;
  p.stride = stride;
  p.pad_front = front;
  p.pad_back = back;
  return p;
}

INSTANTIATE_TEST_SUITE_P(
    Cpu, Conv3dCase,
    ::testing::Values(
        Case{"Kernel1x1x1", Shape{1, 3, 5, 7, 8}, {16, 1, 1, 1}, Conv3dParams{}, true,
             Shape{1, 3, 5, 7, 16}},
        Case{"Kernel3SymmetricPad", Shape{1, 5, 6, 7, 16}, {16, 3, 3, 3},
             Conv3dParams::uniform(1, 1), true, Shape{1, 5, 6, 7, 16}},
        // Enough channels for several of oneDNN's 16-wide channel blocks.
        Case{"Channels64", Shape{1, 4, 8, 8, 64}, {64, 3, 3, 3}, Conv3dParams::uniform(1, 1),
             true, Shape{1, 4, 8, 8, 64}},
        Case{"CausalTimePad", Shape{1, 4, 6, 5, 12}, {20, 3, 3, 3},
             make_params({1, 1, 1}, {2, 1, 1}, {0, 1, 1}), true, Shape{1, 4, 6, 5, 20}},
        Case{"StrideTwoHW", Shape{1, 3, 9, 11, 8}, {24, 3, 3, 3},
             make_params({1, 2, 2}, {1, 1, 1}, {1, 1, 1}), true, Shape{1, 3, 5, 6, 24}},
        Case{"StrideTwoCausal", Shape{1, 5, 8, 8, 16}, {8, 3, 3, 3},
             make_params({2, 2, 2}, {2, 0, 0}, {0, 1, 1}), false, Shape{1, 3, 4, 4, 8}},
        Case{"Batch2RgbIn", Shape{2, 3, 6, 6, 3}, {32, 3, 3, 3}, Conv3dParams::uniform(1, 1),
             false, Shape{2, 3, 6, 6, 32}},
        Case{"OddSizesMixedKernel", Shape{1, 7, 13, 5, 5}, {7, 3, 1, 3},
             make_params({1, 1, 1}, {2, 0, 1}, {1, 0, 0}), true, Shape{1, 8, 13, 4, 7}}),
    [](const ::testing::TestParamInfo<Case>& case_info) { return case_info.param.name; });

TEST(Conv3d, ReusedAcrossGeometries) {
  const Tensor w = random_tensor(Shape{8, 6, 3, 3, 3}, 4);
  const Tensor b = random_tensor(Shape{8}, 5);
  const Conv3dParams p = make_params({1, 1, 1}, {2, 1, 1}, {0, 1, 1});
  sv::cpu::Conv3d conv(w, b, p);
  EXPECT_EQ(conv.in_channels(), 6);
  EXPECT_EQ(conv.out_channels(), 8);

  const Tensor a = random_tensor(Shape{1, 3, 6, 6, 6}, 6);
  const Tensor c = random_tensor(Shape{2, 5, 4, 7, 6}, 7);
  // a, then c, then a again: the second call on `a` takes the cached plan.
  for (const Tensor* x : {&a, &c, &a}) {
    const Tensor y = conv.forward(*x);
    ASSERT_EQ(y.shape(), conv.output_shape(x->shape()));
    expect_close(y, reference_conv3d(*x, w, b, p, y.shape()));
  }

  Tensor out = Tensor::zeros(conv.output_shape(c.shape()), DType::F32);
  conv.forward(c, out);
  expect_close(out, reference_conv3d(c, w, b, p, out.shape()));
  EXPECT_FALSE(conv.impl_name(a.shape()).empty());
}

TEST(Conv3d, NonContiguousInput) {
  const Tensor big = random_tensor(Shape{1, 3, 5, 9, 4}, 8);
  const Tensor x = big.slice(3, 2, 8);  // [1, 3, 5, 6, 4], W stride is not C
  ASSERT_FALSE(x.is_contiguous());
  const Tensor w = random_tensor(Shape{5, 4, 3, 3, 3}, 9);
  const Conv3dParams p = Conv3dParams::uniform(1, 1);
  const Tensor y = sv::cpu::conv3d(x, w, Tensor(), p);
  const Tensor xc = x.contiguous();
  expect_close(y, reference_conv3d(xc, w, Tensor(), p, y.shape()));
}

// A causal 3x3x3 convolution computed the way the streamed Video-VAE does it:
// one kernel-depth-1 convolution per time tap, each over a strided view of the
// weight (no copy), the first with the bias and the others accumulating into
// the output (oneDNN's sum post-op). Equal to the 3D convolution's definition.
TEST(Conv3d, TimeTapsOverWeightViewsAccumulateToTheCausalConvolution) {
  const int64_t frames = 4, cin = 32, cout = 48;
  const Tensor x = random_tensor(Shape{1, frames, 6, 7, cin}, 11);
  const Tensor w = random_tensor(Shape{cout, cin, 3, 3, 3}, 12);
  const Tensor b = random_tensor(Shape{cout}, 13);
  const Conv3dParams causal = make_params({1, 1, 1}, {2, 1, 1}, {0, 1, 1});
  const Conv3dParams per_frame = make_params({1, 1, 1}, {0, 1, 1}, {0, 1, 1});
  std::vector<sv::cpu::Conv3d> taps;
  for (int64_t k = 0; k < 3; ++k) {
    const Tensor view = w.slice(2, k, k + 1);
    ASSERT_FALSE(view.is_contiguous());
    taps.emplace_back(view, b, per_frame);
  }
  Tensor y = Tensor::empty(Shape{1, frames, 6, 7, cout}, DType::F32);
  for (int64_t t = 0; t < frames; ++t) {
    const Tensor out = y.slice(1, t, t + 1);
    bool first = true;
    for (int64_t k = 0; k < 3; ++k) {
      const int64_t source = t - 2 + k;  // frames before 0 are the zero padding: skipped
      if (source < 0) continue;
      taps[static_cast<size_t>(k)].forward(x.slice(1, source, source + 1), out, !first);
      first = false;
    }
  }
  expect_close(y, reference_conv3d(x, w, b, causal, y.shape()));
  // The fast channel-last kernel, not oneDNN's reference loop.
  const std::string impl = taps[0].impl_name(Shape{1, 1, 6, 7, cin});
  EXPECT_EQ(impl.find("ref"), std::string::npos) << impl;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const sv::InternalError& e) {
    return e.what();
  }
  return "";
}

TEST(Conv3d, ShapeErrorsNameTheShapes) {
  const Tensor w = random_tensor(Shape{8, 6, 3, 3, 3}, 10);
  sv::cpu::Conv3d conv(w, Tensor(), Conv3dParams::uniform(1, 1));

  const std::string wrong_cin =
      error_of([&] { conv.forward(Tensor::zeros(Shape{1, 4, 4, 4, 5}, DType::F32)); });
  EXPECT_NE(wrong_cin.find("[1, 4, 4, 4, 5]"), std::string::npos) << wrong_cin;
  EXPECT_NE(wrong_cin.find("[8, 6, 3, 3, 3]"), std::string::npos) << wrong_cin;

  const std::string wrong_rank =
      error_of([&] { conv.forward(Tensor::zeros(Shape{4, 4, 4, 6}, DType::F32)); });
  EXPECT_NE(wrong_rank.find("[4, 4, 4, 6]"), std::string::npos) << wrong_rank;

  sv::cpu::Conv3d unpadded(w, Tensor(), Conv3dParams{});
  const std::string too_small =
      error_of([&] { unpadded.forward(Tensor::zeros(Shape{1, 2, 4, 4, 6}, DType::F32)); });
  EXPECT_NE(too_small.find("[1, 2, 4, 4, 6]"), std::string::npos) << too_small;

  const std::string wrong_out = error_of([&] {
    conv.forward(Tensor::zeros(Shape{1, 4, 4, 4, 6}, DType::F32),
                 Tensor::zeros(Shape{1, 4, 4, 4, 6}, DType::F32));
  });
  EXPECT_NE(wrong_out.find("[1, 4, 4, 4, 8]"), std::string::npos) << wrong_out;

  const std::string wrong_bias = error_of(
      [&] { sv::cpu::Conv3d bad(w, Tensor::zeros(Shape{6}, DType::F32), Conv3dParams{}); });
  EXPECT_NE(wrong_bias.find("[8, 6, 3, 3, 3]"), std::string::npos) << wrong_bias;

  const std::string wrong_weight =
      error_of([&] { sv::cpu::Conv3d bad(Tensor::zeros(Shape{8, 6, 3, 3}, DType::F32),
                                         Tensor(), Conv3dParams{}); });
  EXPECT_NE(wrong_weight.find("[8, 6, 3, 3]"), std::string::npos) << wrong_weight;
}

}  // namespace
