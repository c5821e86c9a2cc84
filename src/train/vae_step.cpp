#include "train/vae_step.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sv::train {

namespace {

// The posterior's logvar is clamped to [-30, 20] (DiagonalGaussian).
constexpr float kLogvarMin = -30.0f, kLogvarMax = 20.0f;

struct Forward {
  vae::EncoderSaved encoder;
  vae::DecoderSaved decoder;
  Tensor parameters;  // [1, T', h, w, 2z]
  Tensor sample;
  VaeStepResult result;
};

void forward(const VaeModel& model, const Tensor& video, const Tensor& noise, const VaeLossWeights& weights,
             Forward& f) {
  const int64_t z = model.config().z_channels;
  f.parameters = model.encoder().forward(video, f.encoder);
  const Shape latent{1, f.parameters.dim(1), f.parameters.dim(2), f.parameters.dim(3), z};
  SV_CHECK_AS(InputError, noise.shape() == latent && noise.dtype() == DType::F32,
              "VAE step: noise {} for latents {}", noise.describe(), latent.str());
  const int64_t positions = f.parameters.numel() / (2 * z);
  const float* p = f.parameters.data<float>();
  const Tensor e = noise.contiguous();
  f.sample = Tensor::empty(latent, DType::F32);
  f.result.latent_mean = Tensor::empty(latent, DType::F32);
  double kl = 0.0;
  for (int64_t i = 0; i < positions; ++i) {
    for (int64_t c = 0; c < z; ++c) {
      const float mean = p[i * 2 * z + c];
      const float logvar = std::clamp(p[i * 2 * z + z + c], kLogvarMin, kLogvarMax);
      f.sample.data<float>()[i * z + c] = mean + std::exp(0.5f * logvar) * e.data<float>()[i * z + c];
      f.result.latent_mean.data<float>()[i * z + c] = mean;
      kl += 0.5 * (double(mean) * mean + std::exp(double(logvar)) - 1.0 - logvar);
    }
  }
  f.result.reconstruction = model.decoder().forward(f.sample, f.decoder);
  SV_CHECK_AS(InputError, f.result.reconstruction.shape() == video.shape(),
              "VAE step: a clip of {} decodes to {}; train on whole chunks (17, 9 or 1 frames)", video.describe(),
              f.result.reconstruction.describe());
  const Tensor x_tensor = video.contiguous();
  const float* x = x_tensor.data<float>();
  const float* r = f.result.reconstruction.data<float>();
  double l1 = 0.0, sq = 0.0;
  const int64_t values = video.numel();
  for (int64_t i = 0; i < values; ++i) {
    const double d = double(r[i]) - x[i];
    l1 += std::fabs(d);
    sq += d * d;
  }
  f.result.l1 = l1 / static_cast<double>(values);
  f.result.mse = sq / static_cast<double>(values);
  f.result.kl = kl / static_cast<double>(positions * z);
  f.result.loss = f.result.l1 + weights.l2 * f.result.mse + weights.kl * f.result.kl;
}

}  // namespace

VaeStepResult vae_reconstruction_loss(const VaeModel& model, const Tensor& video, const Tensor& noise,
                                      const VaeLossWeights& weights) {
  Forward f;
  forward(model, video, noise, weights, f);
  return f.result;
}

VaeStepResult vae_reconstruction_step(const VaeModel& model, const Tensor& video, const Tensor& noise,
                                      const VaeLossWeights& weights, Gradients& grads, double weight) {
  Forward f;
  forward(model, video, noise, weights, f);
  const int64_t z = model.config().z_channels;
  // d L1 / d x_hat = sign(x_hat - x) / N (0 where they are equal, as torch's);
  // d MSE / d x_hat = 2 (x_hat - x) / N.
  const Tensor x = video.contiguous();
  Tensor drec = Tensor::empty(x.shape(), DType::F32);
  const double per_value = weight / static_cast<double>(x.numel());
  const auto l1_scale = static_cast<float>(per_value);
  const auto l2_scale = static_cast<float>(2.0 * weights.l2 * per_value);
  const int64_t values = x.numel();
  for (int64_t i = 0; i < values; ++i) {
    const float diff = f.result.reconstruction.data<float>()[i] - x.data<float>()[i];
    drec.data<float>()[i] = (diff > 0 ? l1_scale : diff < 0 ? -l1_scale : 0.0f) + l2_scale * diff;
  }
  const Tensor dsample = model.decoder().backward(drec, f.decoder, grads);
  // sample = mean + exp(logvar / 2) e; KL' = (mean, (exp(logvar) - 1) / 2) per element.
  const int64_t positions = f.parameters.numel() / (2 * z);
  const double kl_scale = weight * weights.kl / static_cast<double>(positions * z);
  Tensor dparameters = Tensor::empty(f.parameters.shape(), DType::F32);
  const float* p = f.parameters.data<float>();
  const Tensor e_tensor = noise.contiguous();
  const float* e = e_tensor.data<float>();
  const float* ds = dsample.data<float>();
  float* dp = dparameters.data<float>();
  for (int64_t i = 0; i < positions; ++i) {
    for (int64_t c = 0; c < z; ++c) {
      const int64_t k = i * z + c;
      const float mean = p[i * 2 * z + c], raw = p[i * 2 * z + z + c];
      const float logvar = std::clamp(raw, kLogvarMin, kLogvarMax);
      dp[i * 2 * z + c] = static_cast<float>(ds[k] + kl_scale * mean);
      const bool clamped = raw < kLogvarMin || raw > kLogvarMax;
      const double dlogvar =
          double(ds[k]) * e[k] * 0.5 * std::exp(0.5 * logvar) + kl_scale * 0.5 * (std::exp(double(logvar)) - 1.0);
      dp[i * 2 * z + z + c] = clamped ? 0.0f : static_cast<float>(dlogvar);
    }
  }
  model.encoder().backward(dparameters, f.encoder, grads);
  return f.result;
}

}  // namespace sv::train
