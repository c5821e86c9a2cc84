// The building blocks of the Video-VAE v2 (upstream stepvideo/vae/vae.py), on
// channel-last activations [1, T, H, W, C].
//
// Every layer that looks back in time takes an optional state. Without one it
// processes a whole sequence from its start (the zero frames of causal
// padding in front), as upstream does; with one it continues a stream: the
// causal convolutions carry their last input frames and the attention its
// keys and values, so feeding frames one at a time gives the same result as
// feeding them all at once. That is what bounds the decoder's memory.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "backend/cpu/conv3d.h"
#include "layers/gradients.h"
#include "layers/parameter.h"
#include "models/vae/vae_config.h"

namespace sv::vae {

// Training (DESIGN.md 6b): forward(x, Saved&) computes what forward(x)
// does for a whole sequence and keeps what backward needs; backward(dy,
// Saved&, grads) returns d loss / d x, adds the parameter gradients and
// releases the saved activations. The training forwards build their
// convolutions per call from the weights' current values (the inference
// path's cached kernels would miss an optimizer step).

// Called with upstream module paths ("mid.attn_1", ...) and their outputs
// (channel-last). A streamed run reports a module several times, once per piece.
using TraceFn = std::function<void(std::string_view name, const Tensor& value)>;

// A convolution whose weights live at `scope` ("weight", "bias"): Conv3d
// [out, in, kt, kh, kw], or Conv2d [out, in, kh, kw] applied to every frame.
class ConvLayer {
 public:
  ConvLayer(const Scope& scope, int64_t in, int64_t out, std::array<int64_t, 3> kernel, bool conv2d,
            const cpu::Conv3dParams& params);
  ConvLayer(ConvLayer&&) noexcept;
  ~ConvLayer();
  Tensor forward(const Tensor& x) const;
  // Training: the same convolution from the current weights; backward takes
  // the forward's input.
  Tensor forward_uncached(const Tensor& x) const;
  Tensor backward(const Tensor& x, const Tensor& dy, Gradients& grads) const;
  std::array<int64_t, 3> kernel() const { return kernel_; }
  const Parameter& weight() const { return *weight_; }
  const Parameter& bias() const { return *bias_; }

 private:
  Parameter* weight_;
  Parameter* bias_;
  std::array<int64_t, 3> kernel_;
  bool conv2d_;
  cpu::Conv3dParams params_;
  // Built on first use: the weights are loaded after the declaration.
  mutable std::unique_ptr<cpu::Conv3d> conv_;
};

// The last kt - 1 input frames of a causal convolution, oldest first; fewer
// (none) at the start of a chunk, where the causal padding's zero frames are.
// They are the caller's input tensors themselves, kept by reference.
struct ConvCache {
  std::vector<Tensor> frames;
};

// CausalConv: kernel k in t, h, w; time padded with k - 1 zero frames in front
// and none behind (for any stride, as upstream), spatially k / 2 on both sides.
// `scope` is where the nn.Conv3d's tensors are.
//
// Streamed (with a cache), every output frame is the sum over the kernel's
// time taps of a 2D convolution of one input frame: the frames in front come
// from the cache by reference, so no input is copied or concatenated, and the
// zero frames of the padding are skipped (their products are exact zeros).
// That is also how a whole sequence pushed at once is computed, so pieces of
// any size give the same bits; against the single 3D convolution (no cache)
// only the order of the float sums differs.
class CausalConv3d {
 public:
  CausalConv3d(const Scope& scope, int64_t in, int64_t out, int64_t kernel, int64_t stride = 1);
  ~CausalConv3d();
  // cache == nullptr: x is a whole sequence from its first frame.
  // Otherwise x ([1, T, H, W, C]) continues the sequence the cache holds, and
  // the cache keeps views of x's last frames: x must not be modified later.
  Tensor forward(const Tensor& x, ConvCache* cache = nullptr) const;
  // Training, a whole sequence: as ConvLayer's.
  Tensor forward_uncached(const Tensor& x) const { return whole_.forward_uncached(x); }
  Tensor backward(const Tensor& x, const Tensor& dy, Gradients& grads) const {
    return whole_.backward(x, dy, grads);
  }

 private:
  int64_t kernel_, stride_;
  ConvLayer whole_;  // with the causal zero frames as padding
  // One kernel-depth-1 convolution per time tap, over views of the weight;
  // built on first streamed use (the weights are loaded after declaration).
  mutable std::vector<cpu::Conv3d> taps_;
};

// GroupNorm with per-frame statistics (version 2), optionally fused with SiLU.
class VaeGroupNorm {
 public:
  VaeGroupNorm(const Scope& scope, int64_t channels, const VaeConfig& config);
  Tensor forward(const Tensor& x, bool silu) const;
  // x: the forward's input.
  Tensor backward(const Tensor& x, bool silu, const Tensor& dy, Gradients& grads) const;

 private:
  Parameter* weight_;
  Parameter* bias_;
  int64_t groups_;
  float eps_;
};

struct ResnetState {
  ConvCache conv1, conv2;
};

// The inputs of the block's norms and convolutions.
struct ResnetSaved {
  Tensor x, conv1_in, norm2_in, conv2_in;
};

// Resnet3DBlock: h = conv2(SiLU(GN2(conv1(SiLU(GN1(x)))))) + (nin_shortcut(x) or x).
class Resnet3DBlock {
 public:
  Resnet3DBlock(const Scope& scope, int64_t in, int64_t out, const VaeConfig& config);
  Tensor forward(const Tensor& x, ResnetState* state = nullptr) const;
  Tensor forward(const Tensor& x, ResnetSaved& saved) const;
  Tensor backward(const Tensor& dy, ResnetSaved& saved, Gradients& grads) const;

 private:
  VaeGroupNorm norm1_;
  CausalConv3d conv1_;
  VaeGroupNorm norm2_;
  CausalConv3d conv2_;
  std::unique_ptr<CausalConv3d> nin_shortcut_;  // when in != out
};

// Keys and values of every token seen so far.
struct AttnState {
  Tensor k, v;  // [1, tokens, C]
  int64_t tokens = 0;
};

struct AttnSaved {
  Tensor x, normed, q, k, v, attended;  // normed .. attended: [1, tokens, C]
};

// AttnBlock: one head over the flattened (t, h, w) tokens, token-causal.
class AttnBlock {
 public:
  AttnBlock(const Scope& scope, int64_t channels, const VaeConfig& config);
  Tensor forward(const Tensor& x, AttnState* state = nullptr) const;
  Tensor forward(const Tensor& x, AttnSaved& saved) const;
  Tensor backward(const Tensor& dy, AttnSaved& saved, Gradients& grads) const;

 private:
  int64_t channels_;
  VaeGroupNorm norm_;
  Parameter *q_w_, *q_b_, *k_w_, *k_b_, *v_w_, *v_b_, *proj_w_, *proj_b_;
};

struct UpsampleState {
  ConvCache conv1, conv2;
};

struct UpsampleSaved {
  Shape x_shape;
  Tensor up, norm1_in, conv2_in, norm2_in, sum;  // sum: h + up, before the SiLU
};

// Upsample3D: nearest x2 in t, h, w, then Res3DBlockUpsample (post-norm,
// double residual): h = GN2(conv2(SiLU(GN1(conv1(x))))); out = SiLU(h + x) + x.
class Upsample3D {
 public:
  Upsample3D(const Scope& scope, int64_t channels, const VaeConfig& config);
  Tensor forward(const Tensor& x, UpsampleState* state = nullptr) const;
  Tensor forward(const Tensor& x, UpsampleSaved& saved) const;
  Tensor backward(const Tensor& dy, UpsampleSaved& saved, Gradients& grads) const;

 private:
  CausalConv3d conv1_;
  VaeGroupNorm norm1_;
  CausalConv3d conv2_;
  VaeGroupNorm norm2_;
};

// Upsample2D: per frame, nearest x2 in h, w, then a 3x3 Conv2d with padding 1.
class Upsample2D {
 public:
  Upsample2D(const Scope& scope, int64_t channels);
  Tensor forward(const Tensor& x) const;
  // saved: the upsampled input of the convolution.
  Tensor forward(const Tensor& x, Tensor& saved) const;
  Tensor backward(const Tensor& dy, Tensor& saved, Gradients& grads) const;

 private:
  ConvLayer conv_;
};

}  // namespace sv::vae
