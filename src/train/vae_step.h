// One training step of the Video-VAE on one clip (a chunk of 17 frames, or a
// still): encode, sample the latent by the reparameterisation, decode, and
// the loss
//
//   loss = mean |x_hat - x|  +  l2_weight * mean (x_hat - x)^2
//          +  kl_weight * mean over latent elements of KL(N(mean, exp(logvar)) || N(0, 1))
//        = L1 + l2_weight * MSE + kl_weight * mean(0.5 (mean^2 + exp(logvar) - 1 - logvar))
//
// The L2 term is optional (0 by default): L1's gradient is the same for
// every wrong pixel, so on frames that are mostly background a VAE can sit
// for long at "background everywhere"; L2 weighs the few badly wrong pixels
// of the shapes more (README, "Training the Video-VAE", has the measurement).
//
// then the backward through decoder, sampling and encoder. Both terms are
// means (per pixel value, per latent value), so kl_weight reads as "how many
// pixel-L1 units one nat per latent value costs"; the default keeps the
// latents near unit scale (what the DiT's flow matching assumes of them)
// without blurring the reconstruction (README, "Training the Video-VAE").
#pragma once

#include "layers/gradients.h"
#include "models/vae/vae_model.h"

namespace sv::train {

struct VaeLossWeights {
  double kl = 1e-3;
  double l2 = 0.0;
};

struct VaeStepResult {
  double loss = 0.0, l1 = 0.0, mse = 0.0, kl = 0.0;
  Tensor reconstruction;  // f32 [1, T, H, W, C] channel-last
  Tensor latent_mean;     // f32 [1, T', h, w, z] channel-last
};

// video: f32 [1, T, H, W, C] channel-last in [-1, 1] (T a whole chunk: 17,
// 9 or 1 frames); noise: f32 [1, T', H / 16, W / 16, z] (the sampling's
// standard normal draw). Adds weight * d loss / d parameter to grads.
VaeStepResult vae_reconstruction_step(const VaeModel& model, const Tensor& video, const Tensor& noise,
                                      const VaeLossWeights& weights, Gradients& grads, double weight = 1.0);

// The loss alone, through the training forwards (for gradient checks).
VaeStepResult vae_reconstruction_loss(const VaeModel& model, const Tensor& video, const Tensor& noise,
                                      const VaeLossWeights& weights);

}  // namespace sv::train
