#include "models/vae/vae_layers.h"

#include <algorithm>
#include <cmath>

#include "models/vae/vae_tensor_utils.h"
#include "ops/causal_attention.h"
#include "ops/group_norm.h"
#include "ops/linear.h"
#include "ops/pixel_shuffle3d.h"

namespace sv::vae {

namespace {

Init norm_init(bool weight) { return weight ? Init::Ones : Init::Zeros; }

Tensor to_matrix(const Parameter* p) {  // a 1x1x1 conv weight as a linear one
  return p->value.reshape(Shape{p->full_shape[0], p->full_shape[1]});
}

}  // namespace

ConvLayer::ConvLayer(const Scope& scope, int64_t in, int64_t out, std::array<int64_t, 3> kernel,
                     bool conv2d, const cpu::Conv3dParams& params)
    : weight_(&scope.param("weight",
                           conv2d ? Shape{out, in, kernel[1], kernel[2]}
                                  : Shape{out, in, kernel[0], kernel[1], kernel[2]},
                           Init::FanIn)),
      bias_(&scope.param("bias", Shape{out}, Init::Bias)),
      kernel_(kernel),
      conv2d_(conv2d),
      params_(params) {
  SV_CHECK(!conv2d || kernel[0] == 1, "a Conv2d has no time kernel");
}

ConvLayer::ConvLayer(ConvLayer&&) noexcept = default;
ConvLayer::~ConvLayer() = default;

Tensor ConvLayer::forward(const Tensor& x) const {
  if (!conv_) {
    SV_CHECK(weight_->value.defined() && bias_->value.defined(), "{}: weights are not loaded",
             weight_->name);
    const Shape shape5{weight_->full_shape[0], weight_->full_shape[1], kernel_[0], kernel_[1],
                       kernel_[2]};
    conv_ = std::make_unique<cpu::Conv3d>(weight_->value.reshape(shape5), bias_->value, params_);
  }
  return conv_->forward(x);
}

namespace {

cpu::Conv3dParams causal_params(int64_t kernel, int64_t stride, int64_t time_pad) {
  const int64_t sp = kernel / 2;
  return {{stride, stride, stride}, {time_pad, sp, sp}, {0, sp, sp}};
}

}  // namespace

CausalConv3d::CausalConv3d(const Scope& scope, int64_t in, int64_t out, int64_t kernel,
                           int64_t stride)
    : kernel_(kernel),
      stride_(stride),
      whole_(scope, in, out, {kernel, kernel, kernel}, false,
             causal_params(kernel, stride, kernel - 1)) {}

CausalConv3d::~CausalConv3d() = default;

Tensor CausalConv3d::forward(const Tensor& x, ConvCache* cache) const {
  if (cache == nullptr || kernel_ == 1) return whole_.forward(x);
  SV_CHECK(stride_ == 1, "a strided causal convolution cannot be streamed");
  SV_CHECK(x.rank() == 5 && x.dim(0) == 1, "streamed causal conv: expected [1, T, H, W, C], got {}",
           x.describe());
  if (taps_.empty()) {
    const Parameter& w = whole_.weight();
    SV_CHECK(w.value.defined() && whole_.bias().value.defined(), "{}: weights are not loaded",
             w.name);
    const Tensor weight = w.value.reshape(
        Shape{w.full_shape[0], w.full_shape[1], kernel_, kernel_, kernel_});
    for (int64_t k = 0; k < kernel_; ++k) {
      taps_.emplace_back(weight.slice(2, k, k + 1), whole_.bias().value,
                         causal_params(kernel_, 1, 0));
    }
  }
  const Tensor in = x.contiguous();
  const int64_t frames = in.dim(1);
  const Shape frame_out = taps_.back().output_shape(in.slice(1, 0, 1).shape());
  Tensor out = Tensor::empty(
      Shape{1, frames, frame_out[2], frame_out[3], frame_out[4]}, DType::F32);
  std::vector<Tensor>& history = cache->frames;
  for (int64_t t = 0; t < frames; ++t) {
    const Tensor frame = in.slice(1, t, t + 1);
    const Tensor o = out.slice(1, t, t + 1);
    // history[i] meets tap kernel - 1 - history.size() + i; the frame, the last tap.
    const size_t first_tap = static_cast<size_t>(kernel_ - 1) - history.size();
    for (size_t i = 0; i < history.size(); ++i) {
      taps_[first_tap + i].forward(history[i], o, /*accumulate=*/i > 0);
    }
    taps_.back().forward(frame, o, /*accumulate=*/!history.empty());
    history.push_back(frame);
    if (static_cast<int64_t>(history.size()) > kernel_ - 1) history.erase(history.begin());
  }
  return out;
}

VaeGroupNorm::VaeGroupNorm(const Scope& scope, int64_t channels, const VaeConfig& config)
    : weight_(&scope.param("weight", Shape{channels}, norm_init(true))),
      bias_(&scope.param("bias", Shape{channels}, norm_init(false))),
      groups_(config.norm_groups),
      eps_(config.norm_eps) {}

Tensor VaeGroupNorm::forward(const Tensor& x, bool silu) const {
  SV_CHECK(x.rank() == 5, "VAE group norm: expected [N, T, H, W, C], got {}", x.describe());
  // Per frame: every (n, t) is one row of H * W positions.
  const Tensor rows =
      x.contiguous().reshape(Shape{x.dim(0) * x.dim(1), x.dim(2) * x.dim(3), x.dim(4)});
  return ops::group_norm(rows, groups_, weight_->value, bias_->value, eps_, silu)
      .reshape(x.shape());
}

Resnet3DBlock::Resnet3DBlock(const Scope& scope, int64_t in, int64_t out, const VaeConfig& config)
    : norm1_(scope.child("norm1"), in, config),
      conv1_(scope.child("conv1").child("conv"), in, out, 3),
      norm2_(scope.child("norm2"), out, config),
      conv2_(scope.child("conv2").child("conv"), out, out, 3) {
  if (in != out) {
    nin_shortcut_ =
        std::make_unique<CausalConv3d>(scope.child("nin_shortcut").child("conv"), in, out, 1);
  }
}

Tensor Resnet3DBlock::forward(const Tensor& x, ResnetState* state) const {
  Tensor h = norm1_.forward(x, true);
  h = conv1_.forward(h, state ? &state->conv1 : nullptr);
  h = norm2_.forward(h, true);
  h = conv2_.forward(h, state ? &state->conv2 : nullptr);
  add_in_place(h, nin_shortcut_ ? nin_shortcut_->forward(x) : x.contiguous());
  return h;
}

AttnBlock::AttnBlock(const Scope& scope, int64_t channels, const VaeConfig& config)
    : channels_(channels), norm_(scope.child("norm"), channels, config) {
  auto declare = [&](const char* name, Parameter*& w, Parameter*& b) {
    const Scope conv = scope.child(name).child("conv");
    w = &conv.param("weight", Shape{channels, channels, 1, 1, 1}, Init::FanIn);
    b = &conv.param("bias", Shape{channels}, Init::Bias);
  };
  declare("q", q_w_, q_b_);
  declare("k", k_w_, k_b_);
  declare("v", v_w_, v_b_);
  declare("proj_out", proj_w_, proj_b_);
}

Tensor AttnBlock::forward(const Tensor& x, AttnState* state) const {
  const Tensor n = norm_.forward(x, false);
  const int64_t tokens = n.numel() / channels_;
  SV_CHECK(x.dim(0) == 1, "VAE attention runs one batch item at a time, got {}", x.describe());
  const Tensor flat = n.reshape(Shape{1, tokens, channels_});
  const Tensor q = ops::linear(flat, to_matrix(q_w_), q_b_->value);
  Tensor k = ops::linear(flat, to_matrix(k_w_), k_b_->value);
  Tensor v = ops::linear(flat, to_matrix(v_w_), v_b_->value);
  int64_t offset = 0;
  if (state != nullptr) {
    // Earlier frames' keys and values, then this piece's: the queries of this
    // piece see all of the former and a causal prefix of the latter.
    offset = state->tokens;
    auto append = [&](const Tensor& old, const Tensor& add) {
      if (!old.defined()) return add;
      Tensor all = Tensor::empty(Shape{1, old.dim(1) + add.dim(1), channels_}, DType::F32);
      std::copy_n(old.data<float>(), old.numel(), all.data<float>());
      std::copy_n(add.data<float>(), add.numel(), all.data<float>() + old.numel());
      return all;
    };
    k = append(state->k, k);
    v = append(state->v, v);
    state->k = k;
    state->v = v;
    state->tokens += tokens;
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(channels_));
  const Tensor a = ops::causal_attention(q, k, v, offset, scale);
  Tensor out = x.contiguous().clone().reshape(Shape{1, tokens, channels_});
  ops::linear_into(a, to_matrix(proj_w_), proj_b_->value, out, /*accumulate=*/true);
  return out.reshape(x.shape());
}

Upsample3D::Upsample3D(const Scope& scope, int64_t channels, const VaeConfig& config)
    : conv1_(scope.child("conv3d").child("conv1").child("conv"), channels, channels, 3),
      norm1_(scope.child("conv3d").child("norm1"), channels, config),
      conv2_(scope.child("conv3d").child("conv2").child("conv"), channels, channels, 3),
      norm2_(scope.child("conv3d").child("norm2"), channels, config) {}

Tensor Upsample3D::forward(const Tensor& x, UpsampleState* state) const {
  // Upstream interpolates in channel slices of C/8 to bound its memory; the
  // values are the same.
  const Tensor up = ops::upsample_nearest3d(x.contiguous(), 2, 2, 2);
  Tensor h = conv1_.forward(up, state ? &state->conv1 : nullptr);
  h = norm1_.forward(h, true);
  h = conv2_.forward(h, state ? &state->conv2 : nullptr);
  h = norm2_.forward(h, false);
  add_in_place(h, up);
  float* p = h.data<float>();
  const float* u = up.data<float>();
  const int64_t n = h.numel();
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) p[i] = p[i] / (1.0f + std::exp(-p[i])) + u[i];
  return h;
}

Upsample2D::Upsample2D(const Scope& scope, int64_t channels)
    : conv_(scope.child("conv"), channels, channels, {1, 3, 3}, true,
            cpu::Conv3dParams{{1, 1, 1}, {0, 1, 1}, {0, 1, 1}}) {}

Tensor Upsample2D::forward(const Tensor& x) const {
  return conv_.forward(ops::upsample_nearest3d(x.contiguous(), 1, 2, 2));
}

}  // namespace sv::vae
