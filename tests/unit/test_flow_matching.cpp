// The flow-matching objective and the draw of t, against TRAIN.md's formulas
// in double and against float64 finite differences of the loss.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "train/flow_matching.h"
#include "test_util.h"

namespace sv {
namespace {

using test::random_tensor;
using test::rel_l2;
using test::to_double;

TEST(FlowMatching, InputsAndTargetPerSample) {
  const Tensor x0 = random_tensor(Shape{3, 2, 5}, 1), noise = random_tensor(Shape{3, 2, 5}, 2);
  const Tensor t = Tensor::from_vector(std::vector<float>{0.02f, 0.5f, 0.98f}, Shape{3});
  const train::FlowMatchingInputs in = train::flow_matching_inputs(x0, noise, t);
  std::vector<double> xt(30), v(30);
  for (int64_t i = 0; i < 30; ++i) {
    const double tb = t.data<float>()[i / 10], a = x0.data<float>()[i], n = noise.data<float>()[i];
    xt[static_cast<size_t>(i)] = tb * a + (1.0 - tb) * n;
    v[static_cast<size_t>(i)] = a - n;
  }
  EXPECT_LT(rel_l2(in.x_t, xt), 1e-7);
  EXPECT_LT(rel_l2(in.target, v), 1e-7);
  EXPECT_THROW(train::flow_matching_inputs(x0, noise, Tensor::zeros(Shape{2}, DType::F32)), Error);
}

TEST(FlowMatching, MeanSquaredErrorAndItsGradient) {
  const Tensor p = random_tensor(Shape{2, 3, 4}, 3), v = random_tensor(Shape{2, 3, 4}, 4);
  const train::LossAndGradient l = train::mse_loss(p, v);
  const std::vector<double> pd = to_double(p), vd = to_double(v);
  const auto loss = [&](const std::vector<double>& x) {
    double s = 0.0;
    for (size_t i = 0; i < x.size(); ++i) s += (x[i] - vd[i]) * (x[i] - vd[i]);
    return s / static_cast<double>(x.size());
  };
  EXPECT_NEAR(l.loss, loss(pd), 1e-12);
  std::vector<double> numeric(pd.size());
  for (size_t i = 0; i < pd.size(); ++i) {
    std::vector<double> up = pd, down = pd;
    up[i] += 1e-6;
    down[i] -= 1e-6;
    numeric[i] = (loss(up) - loss(down)) / 2e-6;
  }
  EXPECT_LT(rel_l2(l.gradient, numeric), 1e-6);
}

TEST(TimeSampler, APureFunctionOfSeedStepAndSample) {
  const train::TimeSampler uniform;
  EXPECT_EQ(uniform.sample(7, 3, 11), uniform.sample(7, 3, 11));
  std::set<float> seen;
  for (int64_t step = 0; step < 4; ++step)
    for (int64_t i = 0; i < 4; ++i) seen.insert(uniform.sample(7, step, i));
  EXPECT_EQ(seen.size(), 16u) << "every (step, sample) draws its own t";
  EXPECT_NE(uniform.sample(7, 0, 0), uniform.sample(8, 0, 0));
}

TEST(TimeSampler, UniformAndLogitNormalDistributions) {
  constexpr int n = 20000;
  const train::TimeSampler uniform;
  const train::TimeSampler logit{.kind = train::TimeSampling::LogitNormal, .logit_mean = 0.5, .logit_std = 0.8};
  double sum_u = 0.0, sum_z = 0.0, sum_z2 = 0.0;
  for (int i = 0; i < n; ++i) {
    const double t = uniform.sample(1, 0, i);
    ASSERT_GT(t, 0.0);
    ASSERT_LT(t, 1.0);
    sum_u += 1.0 - t;  // shift 1: u = 1 - t
    const double u = 1.0 - logit.sample(1, 0, i);
    const double z = std::log(u / (1.0 - u));
    sum_z += z;
    sum_z2 += z * z;
  }
  // Means within 5 standard errors: uniform (sd 0.289), logit-normal (sd 0.8).
  EXPECT_NEAR(sum_u / n, 0.5, 5 * 0.289 / std::sqrt(n));
  EXPECT_NEAR(sum_z / n, 0.5, 5 * 0.8 / std::sqrt(n));
  EXPECT_NEAR(std::sqrt(sum_z2 / n - (sum_z / n) * (sum_z / n)), 0.8, 0.03);
}

TEST(TimeSampler, ShiftIsTheSamplersMapping) {
  // The same u through shift 1 and shift 3: t = 1 - 3u / (1 + 2u).
  const train::TimeSampler plain, shifted{.shift = 3.0};
  for (int i = 0; i < 10; ++i) {
    const double u = 1.0 - plain.sample(4, 2, i);
    EXPECT_NEAR(shifted.sample(4, 2, i), 1.0 - 3.0 * u / (1.0 + 2.0 * u), 1e-6);
    EXPECT_LT(shifted.sample(4, 2, i), plain.sample(4, 2, i)) << "shift > 1 moves t towards noise";
  }
  EXPECT_THROW((train::TimeSampler{.shift = 0.0}).validate(), InputError);
  EXPECT_THROW((train::TimeSampler{.kind = train::TimeSampling::LogitNormal, .logit_std = 0.0}).validate(),
               InputError);
}

}  // namespace
}  // namespace sv
