// Layers' training paths: the forward keeps what the backward needs, the
// backward's parameter gradients land in the buffer of that parameter (by
// checkpoint name) and accumulate over calls (micro-batches).
#include <gtest/gtest.h>

#include <vector>

#include "layers/gradients.h"
#include "layers/linear.h"
#include "layers/norms.h"
#include "ops/layer_norm.h"
#include "ops/rms_norm.h"
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

  LayerNorm::Saved ln_saved;
  EXPECT_EQ(rel_l2(ln.forward(x, ln_saved), to_double(ln(x))), 0.0);
  const Tensor ln_dx = ln.backward(dy, ln_saved, grads);
  Tensor dw = Tensor::zeros(Shape{8}, DType::F32), db = Tensor::zeros(Shape{8}, DType::F32);
  const Tensor want = ops::layer_norm_backward(x, registry.find("norms.ln.weight")->value, 1e-6f, dy, &dw, &db);
  EXPECT_EQ(rel_l2(ln_dx, to_double(want)), 0.0);
  EXPECT_EQ(rel_l2(*grads.find(*registry.find("norms.ln.weight")), to_double(dw)), 0.0);
  EXPECT_EQ(rel_l2(*grads.find(*registry.find("norms.ln.bias")), to_double(db)), 0.0);

  // RMSNorm normalises in place: the saved input must be the original.
  Tensor h = x.clone();
  RMSNorm::Saved rms_saved;
  rms.apply_(h, rms_saved);
  EXPECT_EQ(rel_l2(rms_saved.x, to_double(x)), 0.0);
  const Tensor rms_dx = rms.backward(dy, rms_saved, grads);
  Tensor dg = Tensor::zeros(Shape{8}, DType::F32);
  const Tensor rms_want = ops::rms_norm_backward(x, registry.find("norms.rms.weight")->value, 1e-6f, dy, &dg);
  EXPECT_EQ(rel_l2(rms_dx, to_double(rms_want)), 0.0);
  EXPECT_EQ(rel_l2(*grads.find(*registry.find("norms.rms.weight")), to_double(dg)), 0.0);
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
