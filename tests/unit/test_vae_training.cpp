// The Video-VAE's training pass as a whole, on a small configuration of the
// real architecture (every layer kind: 3D and 2D downsampling, Upsample3D and
// Upsample2D, nin shortcuts, the mid attention, the patchify shortcuts):
//  - the training forwards give what the inference forwards give;
//  - every encoder and decoder parameter's gradient, and the decoder's
//    latent gradient, agree with central differences of the forward
//    (a fixed random linear probe of the output, so the check is smooth);
//  - the whole step (encode, reparameterised sample, decode, L1 + KL) agrees
//    with central differences of its loss along random directions.
// The ops' backwards are checked one by one in test_ops_backward.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>

#include "layers/weight_loader.h"
#include "models/vae/vae_model.h"
#include "test_util.h"
#include "train/vae_step.h"

namespace sv {
namespace {

using test::random_tensor;

VaeConfig small_config() {
  VaeConfig c;
  c.z_channels = 4;
  c.norm_groups = 4;
  c.encoder.ch = 8;
  c.encoder.ch_mult = {1, 2, 2, 2};
  c.decoder.ch = 8;
  c.decoder.ch_mult = {1, 2, 2, 2};
  c.validate("small VAE");
  return c;
}

// Weights away from their initial values (norms not at 1 / 0, biases not 0).
void perturb_all(ParameterRegistry& registry, uint64_t seed) {
  for (const auto& p : registry.parameters()) {
    const Tensor r = random_tensor(p->value.shape(), seed++, 0.05f);
    for (int64_t i = 0; i < p->value.numel(); ++i) p->value.data<float>()[i] += r.data<float>()[i];
  }
}

double dot(const Tensor& a, const Tensor& b) {
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  double s = 0.0;
  for (int64_t i = 0; i < ca.numel(); ++i) s += double(ca.data<float>()[i]) * cb.data<float>()[i];
  return s;
}

double max_relative_difference(const Tensor& a, const Tensor& b) {
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  double worst = 0.0, scale = 0.0;
  for (int64_t i = 0; i < ca.numel(); ++i) scale = std::max(scale, std::fabs(double(cb.data<float>()[i])));
  for (int64_t i = 0; i < ca.numel(); ++i) {
    worst = std::max(worst, std::fabs(double(ca.data<float>()[i]) - cb.data<float>()[i]) / scale);
  }
  return worst;
}

// sum |a_i b_i|: the size of dot(a, b)'s terms, which its rounding scales with.
double abs_dot(const Tensor& a, const Tensor& b) {
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  double s = 0.0;
  for (int64_t i = 0; i < ca.numel(); ++i) s += std::fabs(double(ca.data<float>()[i]) * cb.data<float>()[i]);
  return s;
}

// The central difference of loss() along d (applied to `value`), Richardson
// extrapolated from steps h and h / 2, with h moving the loss by `relative`
// of `scale`, the size of its terms: large against the f32 forward's
// rounding, small enough that the higher-order terms are too. Measured: the
// encoder needs 1e-3 (at 1e-4 rounding shows, 8e-3), the decoder, whose
// chains of norms and upsamplings curve more, 1e-4 (at 1e-3 a 3e-2 error).
double directional_derivative(Tensor& value, const Tensor& d, double analytic, double scale, double relative,
                              const std::function<double()>& loss) {
  const double h = relative * scale / std::fabs(analytic);
  const Tensor original = value.clone();
  auto shifted = [&](double step) {
    for (int64_t i = 0; i < d.numel(); ++i) {
      value.data<float>()[i] = static_cast<float>(original.data<float>()[i] + step * d.data<float>()[i]);
    }
    return loss();
  };
  const double fd_h = (shifted(h) - shifted(-h)) / (2 * h);
  const double fd_half = (shifted(h / 2) - shifted(-h / 2)) / h;
  value.copy_from(original);
  return (4 * fd_half - fd_h) / 3;
}

// d = g / |g| + r / |r|: along the gradient and off it.
Tensor direction(const Tensor& g, uint64_t seed) {
  const Tensor r = random_tensor(g.shape(), seed);
  const double gn = std::sqrt(dot(g, g)), rn = std::sqrt(dot(r, r));
  Tensor d = Tensor::empty(g.shape(), DType::F32);
  for (int64_t i = 0; i < d.numel(); ++i) {
    d.data<float>()[i] = static_cast<float>(g.data<float>()[i] / gn + r.data<float>()[i] / rn);
  }
  return d;
}

class VaeTraining : public ::testing::Test {
 protected:
  VaeTraining() : model(small_config()) {
    init_parameters_random(model.registry(), 7);
    perturb_all(model.registry(), 500);
  }
  VaeModel model;
  const Tensor video = random_tensor(Shape{1, 9, 32, 32, 3}, 11, 0.8f);  // 9 frames -> 2 latent frames
  const Tensor latents = random_tensor(Shape{1, 2, 2, 2, 4}, 12);
};

TEST_F(VaeTraining, ForwardsAreTheInferenceForwards) {
  vae::EncoderSaved es;
  const Tensor trained = model.encoder().forward(video, es);
  const Tensor inferred = model.encoder().forward(video);
  ASSERT_EQ(trained.shape(), inferred.shape());
  EXPECT_LT(max_relative_difference(trained, inferred), 1e-5);

  vae::DecoderSaved ds;
  const Tensor decoded = model.decoder().forward(latents, ds);
  for (const bool frame_by_frame : {false, true}) {
    vae::DecoderState state = model.decoder().start();
    const Tensor streamed = model.decoder().push(latents, state, frame_by_frame);
    ASSERT_EQ(decoded.shape(), streamed.shape());
    EXPECT_EQ(decoded.dim(1), 9);
    EXPECT_LT(max_relative_difference(decoded, streamed), 1e-5) << "frame_by_frame " << frame_by_frame;
  }
}

// Checks every parameter of `half` (names starting with it) and returns how many.
// The attention's key bias adds q . b to every score of a query's row, which
// the softmax ignores: its exact gradient is zero (checked as such).
bool is_key_bias(const Parameter& p) { return p.name.find("attn_1.k.conv.bias") != std::string::npos; }

double step_of(const std::string& half) { return half == "decoder." ? 1e-4 : 1e-3; }

int check_parameters(ParameterRegistry& registry, const std::string& half, const Gradients& grads, double scale,
                     const std::function<double()>& loss) {
  int checked = 0;
  uint64_t seed = 900;
  double worst = 0.0;
  for (const auto& p : registry.parameters()) {
    if (p->name.rfind(half, 0) != 0) continue;
    const Tensor* g = grads.find(*p);
    EXPECT_TRUE(g != nullptr) << p->name << " got no gradient";
    if (g == nullptr) continue;
    ++checked;
    if (is_key_bias(*p)) {
      const Parameter* q_bias = registry.find(half + "mid.attn_1.q.conv.bias");
      EXPECT_LT(std::sqrt(dot(*g, *g)), 1e-4 * std::sqrt(dot(*grads.find(*q_bias), *grads.find(*q_bias))));
      continue;
    }
    EXPECT_GT(dot(*g, *g), 0.0) << p->name << " has a zero gradient";
    const Tensor d = direction(*g, seed++);
    const double analytic = dot(*g, d);
    const double fd = directional_derivative(p->value, d, analytic, scale, step_of(half), loss);
    worst = std::max(worst, std::fabs(fd - analytic) / std::fabs(analytic));
    EXPECT_NEAR(fd, analytic, 2e-3 * std::fabs(analytic)) << p->name;
  }
  std::printf("%s: worst relative difference %.2e over %d tensors\n", half.c_str(), worst, checked);
  return checked;
}

TEST_F(VaeTraining, DecoderGradientsMatchCentralDifferences) {
  vae::DecoderSaved saved;
  const Tensor out = model.decoder().forward(latents, saved);
  const Tensor probe = random_tensor(out.shape(), 13);
  Gradients grads;
  const Tensor dz = model.decoder().backward(probe, saved, grads);
  const auto loss = [&] {
    vae::DecoderSaved s;
    return dot(probe, model.decoder().forward(latents, s));
  };
  const double scale = abs_dot(probe, out);
  const int checked = check_parameters(model.registry(), "decoder.", grads, scale, loss);
  EXPECT_EQ(static_cast<size_t>(checked), grads.size());
  EXPECT_GT(checked, 50);

  Tensor z = latents.clone();
  const auto latent_loss = [&] {
    vae::DecoderSaved s;
    return dot(probe, model.decoder().forward(z, s));
  };
  const Tensor d = direction(dz, 14);
  const double analytic = dot(dz, d);
  EXPECT_NEAR(directional_derivative(z, d, analytic, scale, step_of("decoder."), latent_loss), analytic, 2e-3 * std::fabs(analytic));
}

TEST_F(VaeTraining, EncoderGradientsMatchCentralDifferences) {
  vae::EncoderSaved saved;
  const Tensor out = model.encoder().forward(video, saved);
  const Tensor probe = random_tensor(out.shape(), 15);
  Gradients grads;
  model.encoder().backward(probe, saved, grads);
  const auto loss = [&] {
    vae::EncoderSaved s;
    return dot(probe, model.encoder().forward(video, s));
  };
  const int checked = check_parameters(model.registry(), "encoder.", grads, abs_dot(probe, out), loss);
  EXPECT_EQ(static_cast<size_t>(checked), grads.size());
  EXPECT_GT(checked, 50);
}

// L1 has a kink where a reconstructed value meets its target; the steps here
// move each value by ~1e-4, so a handful of the 27k values may cross one,
// which the wider tolerance covers (a wrong factor anywhere is off by O(1)).
TEST_F(VaeTraining, WholeStepMatchesCentralDifferences) {
  const Tensor noise = random_tensor(Shape{1, 2, 2, 2, 4}, 16);
  const train::VaeLossWeights weights{0.5, 2.0};  // large, so the KL's and L2's gradients are checked too
  Gradients grads;
  const train::VaeStepResult step = train::vae_reconstruction_step(model, video, noise, weights, grads);
  const train::VaeStepResult again = train::vae_reconstruction_loss(model, video, noise, weights);
  EXPECT_EQ(step.loss, again.loss);
  EXPECT_GT(step.kl, 0.0);
  EXPECT_NEAR(step.loss, step.l1 + 2.0 * step.mse + 0.5 * step.kl, 1e-12);
  ASSERT_EQ(grads.size(), model.registry().parameters().size());
  const auto loss = [&] { return train::vae_reconstruction_loss(model, video, noise, weights).loss; };
  uint64_t seed = 40;
  for (const char* half : {"encoder.", "decoder."}) {
    // All of one half's parameters moved together along one direction.
    std::vector<std::pair<Parameter*, Tensor>> moves;
    double analytic = 0.0;
    for (const auto& p : model.registry().parameters()) {
      if (p->name.rfind(half, 0) != 0) continue;
      moves.emplace_back(p.get(), direction(*grads.find(*p), seed++));
      analytic += dot(*grads.find(*p), moves.back().second);
    }
    const double h = 1e-3 * step.loss / std::fabs(analytic);
    std::vector<Tensor> originals;
    for (auto& [p, d] : moves) originals.push_back(p->value.clone());
    auto shifted = [&](double s) {
      for (size_t k = 0; k < moves.size(); ++k) {
        Tensor& v = moves[k].first->value;
        for (int64_t i = 0; i < v.numel(); ++i) {
          v.data<float>()[i] =
              static_cast<float>(originals[k].data<float>()[i] + s * moves[k].second.data<float>()[i]);
        }
      }
      return loss();
    };
    const double fd = (4 * (shifted(h / 2) - shifted(-h / 2)) / h - (shifted(h) - shifted(-h)) / (2 * h)) / 3;
    shifted(0.0);
    EXPECT_NEAR(fd, analytic, 1e-2 * std::fabs(analytic)) << half;
  }
}

}  // namespace
}  // namespace sv
