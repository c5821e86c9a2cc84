// VideoEncoder, version 2: 17 video frames -> 3 latent frames (2 z channels:
// the Gaussian's mean and log-variance) per chunk. Runs a chunk at once.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "models/vae/vae_layers.h"

namespace sv::vae {

// What the encoder's training forward keeps (vae_layers.h's Saved types).
struct EncoderSaved {
  Tensor video;
  std::vector<std::vector<ResnetSaved>> blocks;  // [level][block]
  std::vector<Tensor> downsample_in;             // [level]
  ResnetSaved mid_block_1, mid_block_2;
  AttnSaved mid_attn_1;
  Tensor norm_out_in, normed, patches;
};

class VaeEncoder {
 public:
  // scope: "encoder".
  VaeEncoder(const Scope& scope, const VaeConfig& config);
  ~VaeEncoder();

  // video: f32 [1, T, H, W, in_channels] channel-last, one chunk (H, W
  // multiples of 16). Returns f32 [1, T', H / 16, W / 16, 2 z] channel-last.
  Tensor forward(const Tensor& video, const TraceFn& trace = {}) const;
  // Training: the same output (from the weights' current values), keeping
  // what backward needs; backward adds every encoder parameter's gradient
  // from d loss / d output and releases `saved`.
  Tensor forward(const Tensor& video, EncoderSaved& saved) const;
  void backward(const Tensor& dout, EncoderSaved& saved, Gradients& grads) const;

  // Latent frames for a chunk of `frames` video frames; 0 if that length
  // cannot be encoded (upstream's pixel unshuffle would fail on it too).
  static int64_t latent_frames(int64_t frames);

 private:
  struct Level;
  VaeConfig config_;
  std::unique_ptr<CausalConv3d> conv_in_;
  std::vector<std::unique_ptr<Level>> down_;
  std::unique_ptr<Resnet3DBlock> mid_block_1_, mid_block_2_;
  std::unique_ptr<AttnBlock> mid_attn_1_;
  std::unique_ptr<VaeGroupNorm> norm_out_;
  std::unique_ptr<CausalConv3d> conv_patchify_, conv_out_;
};

}  // namespace sv::vae
