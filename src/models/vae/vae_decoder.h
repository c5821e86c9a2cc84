// VideoDecoder, version 2: 3 latent frames -> 17 video frames per chunk.
//
// The decoder is causal in time and normalises per frame, so it runs as a
// stream: push latent frames in any pieces and receive the video frames they
// determine; the result is the same as decoding the chunk at once. With
// `frame_by_frame`, every level also works one frame at a time, so only a
// frame's activations (plus each causal convolution's two carried frames and
// the mid attention's keys/values) are alive at once.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "models/vae/vae_layers.h"

namespace sv::vae {

struct DecoderState {
  ConvCache conv_in, conv_unpatchify;
  ResnetState mid_block_1, mid_block_2;
  AttnState mid_attn_1;
  std::vector<std::vector<ResnetState>> up_blocks;  // [level][block]
  std::vector<UpsampleState> up_samples;            // [level]
  ConvCache conv_out;
  int64_t mid_frames = 0;  // frames produced by conv_unpatchify (before the first is dropped)
  int64_t out_frames = 0;  // frames produced by conv_out (before the first ones are dropped)
};

// What the decoder's training forward keeps.
struct DecoderSaved {
  Tensor z, unpatchify_in;
  ResnetSaved mid_block_1, mid_block_2;
  AttnSaved mid_attn_1;
  std::vector<std::vector<ResnetSaved>> blocks;  // [level][block]
  std::vector<UpsampleSaved> upsample3d;         // [level]
  std::vector<Tensor> upsample2d;                // [level]
  Tensor norm_out_in, conv_out_in;
};

class VaeDecoder {
 public:
  // scope: "decoder".
  VaeDecoder(const Scope& scope, const VaeConfig& config);
  ~VaeDecoder();

  // A fresh chunk.
  DecoderState start() const;
  // latents: f32 [1, T, h, w, z] (channel-last), the next T latent frames of
  // the chunk. Returns the video frames they complete, f32 [1, T', 16h, 16w, 3]
  // (T' may be 0 for none). trace is called with upstream module paths.
  Tensor push(const Tensor& latents, DecoderState& state, bool frame_by_frame,
              const TraceFn& trace = {}) const;

  // Training: a whole chunk at once (what push gives for the chunk's latents
  // from a fresh state), keeping what backward needs. backward takes d loss /
  // d video, adds every decoder parameter's gradient, returns d loss / d
  // latents and releases `saved`. A clip of several chunks is several
  // independent chunks (VaeModel decodes each from scratch); only the border
  // blend (VaeModel::mix) joins them, and it has no parameters.
  Tensor forward(const Tensor& latents, DecoderSaved& saved) const;
  Tensor backward(const Tensor& dvideo, DecoderSaved& saved, Gradients& grads) const;

 private:
  struct Level;
  Tensor head(const Tensor& z, DecoderState& state, const TraceFn& trace) const;
  // Runs level `level` and everything after it on x, appending output frames to out.
  void up_from(int64_t level, const Tensor& x, DecoderState& state, bool frame_by_frame,
               const TraceFn& trace, std::vector<Tensor>& out) const;
  Tensor tail(const Tensor& x, DecoderState& state, const TraceFn& trace) const;

  VaeConfig config_;
  std::unique_ptr<CausalConv3d> conv_in_, conv_unpatchify_;
  std::unique_ptr<Resnet3DBlock> mid_block_1_, mid_block_2_;
  std::unique_ptr<AttnBlock> mid_attn_1_;
  std::vector<std::unique_ptr<Level>> up_;  // index = level, as upstream's ModuleList
  std::unique_ptr<VaeGroupNorm> norm_out_;
  std::unique_ptr<CausalConv3d> conv_out_;
};

}  // namespace sv::vae
