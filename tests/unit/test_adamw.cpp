// AdamW against TRAIN.md's step written out in double precision: three steps
// with a warm-up learning rate, a clipped, an unclipped and a clipped step
// again, weight decay on matrices only.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "train/adamw.h"
#include "test_util.h"

namespace sv {
namespace {

using test::random_tensor;
using test::rel_l2;
using test::to_double;

// The reference's state for one parameter, in double.
struct RefParam {
  std::vector<double> w, m, v;
  bool decayed;
};

TEST(AdamW, ThreeStepsMatchTheWrittenOutFormulas) {
  const train::AdamWSettings s{.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f,
                               .max_grad_norm = 6.0f};
  ParameterRegistry registry;
  Parameter& matrix = registry.declare("blocks.0.attn.weight", Shape{4, 3}, Init::FanIn);
  Parameter& bias = registry.declare("blocks.0.attn.bias", Shape{4}, Init::Bias);
  matrix.value = random_tensor(Shape{4, 3}, 1);
  bias.value = random_tensor(Shape{4}, 2);
  std::vector<RefParam> ref{{to_double(matrix.value), {}, {}, true}, {to_double(bias.value), {}, {}, false}};
  for (RefParam& r : ref) r.m = r.v = std::vector<double>(r.w.size(), 0.0);
  const Tensor initial[2] = {matrix.value.clone(), bias.value.clone()};
  const std::vector<double> ref_initial[2] = {ref[0].w, ref[1].w};

  train::AdamW adamw(s);
  // Gradient scales: step 0 above the clip norm, step 1 below it, step 2 above.
  const float scales[3] = {4.0f, 0.5f, 3.0f};
  const float lrs[3] = {5e-4f, 1e-3f, 1e-3f};
  for (int k = 0; k < 3; ++k) {
    const Tensor gm = random_tensor(Shape{4, 3}, 10 + static_cast<uint64_t>(k), scales[k]);
    const Tensor gb = random_tensor(Shape{4}, 20 + static_cast<uint64_t>(k), scales[k]);
    std::vector<std::vector<double>> g{to_double(gm), to_double(gb)};
    double sum = 0.0;
    for (const auto& gi : g)
      for (double x : gi) sum += x * x;
    const double norm = std::sqrt(sum), c = s.max_grad_norm / (norm + 1e-6);
    for (size_t p = 0; p < ref.size(); ++p) {
      RefParam& r = ref[p];
      for (size_t i = 0; i < r.w.size(); ++i) {
        const double gi = c < 1 ? g[p][i] * c : g[p][i];
        if (r.decayed) r.w[i] *= 1.0 - static_cast<double>(lrs[k]) * s.weight_decay;
        r.m[i] = s.beta1 * r.m[i] + (1.0 - s.beta1) * gi;
        r.v[i] = s.beta2 * r.v[i] + (1.0 - s.beta2) * gi * gi;
        r.w[i] -= lrs[k] / (1.0 - std::pow(static_cast<double>(s.beta1), k + 1)) * r.m[i] /
                  (std::sqrt(r.v[i] / (1.0 - std::pow(static_cast<double>(s.beta2), k + 1))) + s.eps);
      }
    }
    const std::vector<train::ParameterGradient> grads{{&matrix, gm.clone()}, {&bias, gb.clone()}};
    const train::StepReport report = adamw.step(grads, lrs[k]);
    EXPECT_NEAR(report.grad_norm, norm, 1e-6 * norm) << "step " << k;
    EXPECT_EQ(report.clipped, c < 1) << "step " << k;
    EXPECT_EQ(report.clipped, k != 1) << "the test's scales must clip steps 0 and 2 only";
  }
  EXPECT_EQ(adamw.steps_taken(), 3);
  const Parameter* params[2] = {&matrix, &bias};
  for (size_t p = 0; p < 2; ++p) {
    const train::AdamWMoments* mom = adamw.moments(params[p]->name);
    ASSERT_NE(mom, nullptr);
    EXPECT_LT(rel_l2(mom->exp_avg, ref[p].m), 1e-6) << params[p]->name;
    EXPECT_LT(rel_l2(mom->exp_avg_sq, ref[p].v), 1e-6) << params[p]->name;
    // Updates, not weights: three steps move a weight by ~1e-3 of itself (TRAIN.md).
    Tensor update = params[p]->value.clone();
    std::vector<double> ref_update(ref[p].w.size());
    for (size_t i = 0; i < ref_update.size(); ++i) {
      update.data<float>()[i] -= initial[p].data<float>()[i];
      ref_update[i] = ref[p].w[i] - ref_initial[p][i];
    }
    EXPECT_LT(rel_l2(update, ref_update), 1e-4) << params[p]->name;
  }
  EXPECT_EQ(adamw.moments("no.such.parameter"), nullptr);
}

TEST(AdamW, OnlyMatricesDecay) {
  // Zero gradients: the only change is the decay, and only of the matrix.
  ParameterRegistry registry;
  Parameter& matrix = registry.declare("w", Shape{2, 2}, Init::FanIn);
  Parameter& norm = registry.declare("norm.weight", Shape{2}, Init::Ones);
  matrix.value = Tensor::full(Shape{2, 2}, 1.0f);
  norm.value = Tensor::full(Shape{2}, 1.0f);
  train::AdamW adamw({.weight_decay = 0.1f});
  const std::vector<train::ParameterGradient> grads{{&matrix, Tensor::zeros(Shape{2, 2}, DType::F32)},
                                                    {&norm, Tensor::zeros(Shape{2}, DType::F32)}};
  adamw.step(grads, 0.5f);
  EXPECT_FLOAT_EQ(matrix.value.data<float>()[0], 0.95f);
  EXPECT_FLOAT_EQ(norm.value.data<float>()[0], 1.0f);
}

TEST(AdamW, LearningRateScaleIsThatParametersLearningRate) {
  // One AdamW steps a parameter at lr_scale 0.25 and lr 2e-3, another its copy
  // at 5e-4: the same bits (decay included). A third, unscaled, must differ.
  ParameterRegistry registry;
  Parameter& a = registry.declare("a", Shape{3, 4}, Init::FanIn);
  Parameter& b = registry.declare("b", Shape{3, 4}, Init::FanIn);
  Parameter& c = registry.declare("c", Shape{3, 4}, Init::FanIn);
  a.value = random_tensor(Shape{3, 4}, 7);
  b.value = a.value.clone();
  c.value = a.value.clone();
  train::AdamW scaled({.weight_decay = 0.1f}), plain({.weight_decay = 0.1f}), unscaled({.weight_decay = 0.1f});
  for (uint64_t k = 0; k < 3; ++k) {
    const Tensor g = random_tensor(Shape{3, 4}, 30 + k);
    const std::vector<train::ParameterGradient> ga{{&a, g.clone(), 0.25f}}, gb{{&b, g.clone()}}, gc{{&c, g.clone()}};
    scaled.step(ga, 2e-3f);
    plain.step(gb, 5e-4f);
    unscaled.step(gc, 2e-3f);
  }
  EXPECT_EQ(rel_l2(a.value, to_double(b.value)), 0.0);
  EXPECT_GT(rel_l2(a.value, to_double(c.value)), 1e-5);
}

TEST(AdamW, NonFiniteGradientChangesNothing) {
  ParameterRegistry registry;
  Parameter& w = registry.declare("w", Shape{3}, Init::Bias);
  w.value = random_tensor(Shape{3}, 5);
  const Tensor before = w.value.clone();
  Tensor g = random_tensor(Shape{3}, 6);
  g.data<float>()[1] = std::nanf("");
  train::AdamW adamw({});
  const std::vector<train::ParameterGradient> grads{{&w, g}};
  EXPECT_THROW(adamw.step(grads, 1e-3f), Error);
  EXPECT_EQ(rel_l2(w.value, to_double(before)), 0.0);
  EXPECT_EQ(adamw.steps_taken(), 0);
  EXPECT_EQ(adamw.moments("w"), nullptr);
}

}  // namespace
}  // namespace sv
