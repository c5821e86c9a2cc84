// The DiT's training pass as a whole: its prediction is the inference
// forward's, activation checkpointing gives bit-identical gradients, and
// every parameter's gradient agrees with central differences of the
// inference forward's loss, for each patch size the model supports. (The
// float64-derived reference for patch size 1 is the dit_tiny_grad fixture;
// the ops' backwards are checked in float64 in test_ops_backward.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "layers/weight_loader.h"
#include "models/dit/dit_training.h"
#include "test_util.h"
#include "train/dit_step.h"

namespace sv {
namespace {

using test::random_tensor;

DitConfig small_config(int64_t patch_size, bool affine_out) {
  DitConfig c;
  c.num_attention_heads = 2;
  c.attention_head_dim = 128;  // upstream's heads (RoPE 64/32/32)
  c.in_channels = 4;
  c.out_channels = 4;
  c.num_layers = 2;
  c.patch_size = patch_size;
  c.norm_elementwise_affine = affine_out;
  c.caption_channels = 12;
  c.clip_channels = 8;
  return c;
}

train::DitBatch small_batch(const DitConfig& c) {
  train::DitBatch b;
  const int64_t side = 2 * c.patch_size;  // 2 x 3 patches per frame
  b.x0 = random_tensor(Shape{2, 2, c.in_channels, side, 3 * c.patch_size}, 21);
  b.noise = random_tensor(b.x0.shape(), 22);
  b.t = Tensor::from_vector<float>({0.3f, 0.85f}, Shape{2});
  b.encoder_hidden_states = random_tensor(Shape{2, 5, c.caption_channels}, 23);
  b.encoder_hidden_states_2 = random_tensor(Shape{2, 3, c.clip_channels}, 24);
  b.encoder_attention_mask = Tensor::zeros(Shape{2, 8}, DType::F32);
  for (int64_t j = 0; j < 8; ++j) b.encoder_attention_mask.data<float>()[j] = 1.0f;
  for (int64_t j = 0; j < 6; ++j) b.encoder_attention_mask.data<float>()[8 + j] = 1.0f;  // row 1: 6 keys
  return b;
}

// Weights away from their initial values (tables and norms not at 0 / 1), so
// no gradient is special.
void perturb_all(ParameterRegistry& registry, uint64_t seed) {
  for (const auto& p : registry.parameters()) {
    const Tensor r = random_tensor(p->value.shape(), seed++, 0.05f);
    for (int64_t i = 0; i < p->value.numel(); ++i) p->value.data<float>()[i] += r.data<float>()[i];
  }
}

double loss_of(const DitModel& model, const train::DitBatch& b) {
  const train::FlowMatchingInputs fm = train::flow_matching_inputs(b.x0, b.noise, b.t);
  DitInputs in{fm.x_t, b.t, b.encoder_hidden_states, b.encoder_hidden_states_2, b.encoder_attention_mask};
  return train::mse_loss(model.forward(in), fm.target).loss;
}

double dot(const Tensor& a, const Tensor& b) {
  double s = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) s += double(a.data<float>()[i]) * b.data<float>()[i];
  return s;
}

class DitTraining : public ::testing::TestWithParam<int64_t> {};

TEST_P(DitTraining, PredictionIsTheInferenceForward) {
  const DitConfig c = small_config(GetParam(), true);
  DitModel model(c, ParallelGroups::single());
  init_parameters_random(model.registry(), 3);
  const train::DitBatch b = small_batch(c);
  Gradients grads;
  const train::DitStepResult step = train::dit_flow_matching_step(model, b, {}, grads);
  EXPECT_DOUBLE_EQ(step.loss, loss_of(model, b));
}

TEST_P(DitTraining, ActivationCheckpointingGivesIdenticalGradients) {
  const DitConfig c = small_config(GetParam(), true);
  DitModel model(c, ParallelGroups::single());
  init_parameters_random(model.registry(), 4);
  perturb_all(model.registry(), 100);
  const train::DitBatch b = small_batch(c);
  Gradients plain, checkpointed;
  const double l1 = train::dit_flow_matching_step(model, b, {false, {}}, plain).loss;
  const double l2 = train::dit_flow_matching_step(model, b, {true, {}}, checkpointed).loss;
  EXPECT_EQ(l1, l2);
  ASSERT_EQ(plain.size(), model.registry().parameters().size());
  ASSERT_EQ(checkpointed.size(), plain.size());
  for (const auto& p : model.registry().parameters()) {
    const Tensor& a = *plain.find(*p);
    const Tensor& g = *checkpointed.find(*p);
    EXPECT_EQ(std::memcmp(a.data<float>(), g.data<float>(), a.nbytes()), 0) << p->name;
  }
}

// For each parameter tensor, along d = g/|g| + r/|r| (r random): the central
// difference of the loss (inference forward, loss summed in double) against
// g . d, extrapolated (Richardson) from steps h and h/2.
TEST_P(DitTraining, EveryGradientMatchesCentralDifferences) {
  const DitConfig c = small_config(GetParam(), true);
  DitModel model(c, ParallelGroups::single());
  init_parameters_random(model.registry(), 5);
  perturb_all(model.registry(), 200);
  const train::DitBatch b = small_batch(c);
  Gradients grads;
  const double loss0 = train::dit_flow_matching_step(model, b, {}, grads).loss;
  uint64_t seed = 300;
  for (const auto& p : model.registry().parameters()) {
    const Tensor g = grads.find(*p)->clone();
    const Tensor r = random_tensor(g.shape(), seed++);
    const double gn = std::sqrt(dot(g, g)), rn = std::sqrt(dot(r, r));
    ASSERT_GT(gn, 0.0) << p->name << " got no gradient";
    Tensor d = Tensor::empty(g.shape(), DType::F32);
    for (int64_t i = 0; i < d.numel(); ++i) {
      d.data<float>()[i] = static_cast<float>(g.data<float>()[i] / gn + r.data<float>()[i] / rn);
    }
    // A step that moves the loss by about 1e-3 of itself: large against the
    // f32 forward's rounding (~1e-7), small enough that the O(h^2) term is too.
    const double analytic = dot(g, d);
    const double h = 1e-3 * loss0 / std::fabs(analytic);
    const Tensor original = p->value.clone();
    auto shifted_loss = [&](double step) {
      for (int64_t i = 0; i < d.numel(); ++i) {
        p->value.data<float>()[i] = static_cast<float>(original.data<float>()[i] + step * d.data<float>()[i]);
      }
      return loss_of(model, b);
    };
    // Richardson: two central differences cancel the h^2 term.
    const double fd_h = (shifted_loss(h) - shifted_loss(-h)) / (2 * h);
    const double fd_half = (shifted_loss(h / 2) - shifted_loss(-h / 2)) / h;
    const double fd = (4 * fd_half - fd_h) / 3;
    p->value.copy_from(original);
    // Measured: at most 3.4e-4 relative over every parameter, both patch sizes.
    EXPECT_NEAR(fd, analytic, 2e-3 * std::fabs(analytic)) << p->name;
  }
}

std::string patch_name(const ::testing::TestParamInfo<int64_t>& param) {
  return param.param == 1 ? "Patch1" : "Patch2";
}
INSTANTIATE_TEST_SUITE_P(PatchSizes, DitTraining, ::testing::Values(int64_t{1}, int64_t{2}), patch_name);

}  // namespace
}  // namespace sv
