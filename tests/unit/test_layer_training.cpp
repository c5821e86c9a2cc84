// Layers' training paths: the forward keeps what the backward needs, the
// backward's parameter gradients land in the buffer of that parameter (by
// checkpoint name) and accumulate over calls (micro-batches).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "layers/gradients.h"
#include "layers/linear.h"
#include "layers/norms.h"
#include "test_util.h"

namespace sv {
namespace {

using test::random_tensor;
using test::rel_l2;
using test::to_double;

// Loads random values into every declared parameter.
void fill(ParameterRegistry& registry, uint64_t seed) {
  for (const auto& p : registry.parameters()) p->value = random_tensor(p->full_shape, seed++);
}

TEST(LayerTraining, LinearGradientsAccumulateByCheckpointName) {
  ParameterRegistry registry;
  const Linear proj(Scope(registry, "blocks.0").child("proj"), 3, 4, /*bias=*/true);
  fill(registry, 1);
  const Tensor x = random_tensor(Shape{2, 5, 3}, 10), dy = random_tensor(Shape{2, 5, 4}, 11);
  Linear::Saved saved;
  const Tensor y = proj.forward(x, saved);
  EXPECT_EQ(rel_l2(y, to_double(proj(x))), 0.0) << "the training forward is the inference forward";
  Gradients grads;
  const Tensor dx = proj.backward(dy, saved, grads);
  proj.backward(dy, saved, grads);  // a second micro-batch
  const Parameter& w = *registry.find("blocks.0.proj.weight");
  const Parameter& b = *registry.find("blocks.0.proj.bias");
  ASSERT_NE(grads.find(w), nullptr);
  ASSERT_NE(grads.find(b), nullptr);
  // dW = 2 * dy^T x and db = 2 * column sums of dy, dx = dy W, in double.
  std::vector<double> dw(12, 0.0), db(4, 0.0), dx_ref(30, 0.0);
  for (int64_t r = 0; r < 10; ++r)
    for (int64_t o = 0; o < 4; ++o) {
      const double g = dy.data<float>()[r * 4 + o];
      db[static_cast<size_t>(o)] += 2 * g;
      for (int64_t i = 0; i < 3; ++i) {
        dw[static_cast<size_t>(o * 3 + i)] += 2 * g * x.data<float>()[r * 3 + i];
        dx_ref[static_cast<size_t>(r * 3 + i)] += g * w.value.data<float>()[o * 3 + i];
      }
    }
  EXPECT_LT(rel_l2(*grads.find(w), dw), 1e-6);
  EXPECT_LT(rel_l2(*grads.find(b), db), 1e-6);
  EXPECT_LT(rel_l2(dx, dx_ref), 1e-6);
  std::vector<std::string> order;
  grads.for_each(registry, [&](const Parameter& p, Tensor&) { order.push_back(p.name); });
  EXPECT_EQ(order, (std::vector<std::string>{"blocks.0.proj.weight", "blocks.0.proj.bias"}));
  grads.zero();
  EXPECT_EQ(rel_l2(*grads.find(w), std::vector<double>(12, 0.0)), 0.0);
}

TEST(LayerTraining, NormsKeepTheirInputAndFillTheirParameters) {
  ParameterRegistry registry;
  const Scope scope(registry, "norms");
  const LayerNorm ln(scope.child("ln"), 8, 1e-6f, /*affine=*/true);
  const RMSNorm rms(scope.child("rms"), 8, 1e-6f);
  fill(registry, 20);
  const Tensor x = random_tensor(Shape{3, 8}, 30), dy = random_tensor(Shape{3, 8}, 31);
  Gradients grads;

  // The parameter gradients, in double: d weight = sum over rows of dy * x_hat,
  // d bias = sum over rows of dy, with x_hat each norm's normalised input.
  std::vector<double> ln_dw(8, 0.0), ln_db(8, 0.0), rms_dw(8, 0.0);
  for (int64_t r = 0; r < 3; ++r) {
    double mean = 0.0, var = 0.0, ms = 0.0;
    for (int64_t i = 0; i < 8; ++i) mean += x.data<float>()[r * 8 + i] / 8.0;
    for (int64_t i = 0; i < 8; ++i) {
      const double v = x.data<float>()[r * 8 + i];
      var += (v - mean) * (v - mean) / 8.0;
      ms += v * v / 8.0;
    }
    for (int64_t i = 0; i < 8; ++i) {
      const double v = x.data<float>()[r * 8 + i], g = dy.data<float>()[r * 8 + i];
      const auto k = static_cast<size_t>(i);
      ln_dw[k] += g * (v - mean) / std::sqrt(var + 1e-6);
      ln_db[k] += g;
      rms_dw[k] += g * v / std::sqrt(ms + 1e-6);
    }
  }

  LayerNorm::Saved ln_saved;
  EXPECT_EQ(rel_l2(ln.forward(x, ln_saved), to_double(ln(x))), 0.0) << "the training forward is the inference one";
  const Tensor ln_dx = ln.backward(dy, ln_saved, grads);
  EXPECT_EQ(ln_dx.shape(), x.shape());
  EXPECT_LT(rel_l2(*grads.find(*registry.find("norms.ln.weight")), ln_dw), 1e-6);
  EXPECT_LT(rel_l2(*grads.find(*registry.find("norms.ln.bias")), ln_db), 1e-6);

  // RMSNorm normalises in place: the saved input must be the original.
  Tensor h = x.clone();
  RMSNorm::Saved rms_saved;
  rms.apply_(h, rms_saved);
  EXPECT_EQ(rel_l2(rms_saved.x, to_double(x)), 0.0);
  rms.backward(dy, rms_saved, grads);
  EXPECT_LT(rel_l2(*grads.find(*registry.find("norms.rms.weight")), rms_dw), 1e-6);
  EXPECT_EQ(grads.size(), 3u);
}

TEST(LayerTraining, LinearRefusesToTrainBf16Weights) {
  ParameterRegistry registry;
  const Linear proj(Scope(registry, "p"), 2, 2, false);
  registry.parameters().front()->value = random_tensor(Shape{2, 2}, 2).to(DType::BF16);  // p.weight
  Linear::Saved saved;
  EXPECT_THROW(proj.forward(random_tensor(Shape{1, 2}, 3), saved), Error);
}

}  // namespace
}  // namespace sv
