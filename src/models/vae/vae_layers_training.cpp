// The training paths of the Video-VAE's layers (vae_layers.h): each forward
// repeats its inference forward over a whole sequence, keeping the inputs its
// backward needs; each backward composes the ops' backwards in reverse.
#include <cmath>

#include "models/vae/vae_layers.h"
#include "models/vae/vae_tensor_utils.h"
#include "ops/accumulate.h"
#include "ops/activations.h"
#include "ops/causal_attention.h"
#include "ops/group_norm.h"
#include "ops/linear.h"
#include "ops/pixel_shuffle3d.h"

namespace sv::vae {

namespace {

Shape conv_weight_shape(const Parameter& w, std::array<int64_t, 3> kernel) {
  return Shape{w.full_shape[0], w.full_shape[1], kernel[0], kernel[1], kernel[2]};
}

Tensor as_matrix(const Tensor& t) { return t.reshape(Shape{t.dim(0), t.dim(1)}); }

// The gradient of a 1x1x1 convolution's weight, viewed as a linear one's.
Tensor matrix_gradient(Gradients& grads, const Parameter& p) { return as_matrix(grads.of(p)); }

}  // namespace

Tensor ConvLayer::forward_uncached(const Tensor& x) const {
  SV_CHECK(weight_->value.defined() && bias_->value.defined(), "{}: weights are not loaded", weight_->name);
  return cpu::conv3d(x, weight_->value.reshape(conv_weight_shape(*weight_, kernel_)), bias_->value, params_);
}

Tensor ConvLayer::backward(const Tensor& x, const Tensor& dy, Gradients& grads) const {
  const Shape shape = conv_weight_shape(*weight_, kernel_);
  Tensor dweight = grads.of(*weight_).reshape(shape);  // a view of the buffer
  return cpu::conv3d_backward(x, weight_->value.reshape(shape), params_, dy, &dweight, &grads.of(*bias_));
}

Tensor VaeGroupNorm::backward(const Tensor& x, bool silu, const Tensor& dy, Gradients& grads) const {
  const Shape rows{x.dim(0) * x.dim(1), x.dim(2) * x.dim(3), x.dim(4)};
  return ops::group_norm_backward(x.contiguous().reshape(rows), groups_, weight_->value, bias_->value, eps_, silu,
                                  dy.contiguous().reshape(rows), &grads.of(*weight_), &grads.of(*bias_))
      .reshape(x.shape());
}

Tensor Resnet3DBlock::forward(const Tensor& x, ResnetSaved& saved) const {
  saved.x = x.contiguous();
  saved.conv1_in = norm1_.forward(saved.x, true);
  saved.norm2_in = conv1_.forward_uncached(saved.conv1_in);
  saved.conv2_in = norm2_.forward(saved.norm2_in, true);
  Tensor h = conv2_.forward_uncached(saved.conv2_in);
  add_in_place(h, nin_shortcut_ ? nin_shortcut_->forward_uncached(saved.x) : saved.x);
  return h;
}

Tensor Resnet3DBlock::backward(const Tensor& dy, ResnetSaved& saved, Gradients& grads) const {
  Tensor d = conv2_.backward(saved.conv2_in, dy, grads);
  d = norm2_.backward(saved.norm2_in, true, d, grads);
  d = conv1_.backward(saved.conv1_in, d, grads);
  d = norm1_.backward(saved.x, true, d, grads);
  add_in_place(d, nin_shortcut_ ? nin_shortcut_->backward(saved.x, dy, grads) : dy.contiguous());
  saved = {};
  return d;
}

Tensor AttnBlock::forward(const Tensor& x, AttnSaved& saved) const {
  SV_CHECK(x.dim(0) == 1, "VAE attention runs one batch item at a time, got {}", x.describe());
  saved.x = x.contiguous();
  const int64_t tokens = x.numel() / channels_;
  saved.normed = norm_.forward(saved.x, false).reshape(Shape{1, tokens, channels_});
  saved.q = ops::linear(saved.normed, as_matrix(q_w_->value), q_b_->value);
  saved.k = ops::linear(saved.normed, as_matrix(k_w_->value), k_b_->value);
  saved.v = ops::linear(saved.normed, as_matrix(v_w_->value), v_b_->value);
  const float scale = 1.0f / std::sqrt(static_cast<float>(channels_));
  saved.attended = ops::causal_attention(saved.q, saved.k, saved.v, 0, scale);
  Tensor out = saved.x.clone().reshape(Shape{1, tokens, channels_});
  ops::linear_into(saved.attended, as_matrix(proj_w_->value), proj_b_->value, out, /*accumulate=*/true);
  return out.reshape(x.shape());
}

Tensor AttnBlock::backward(const Tensor& dy, AttnSaved& saved, Gradients& grads) const {
  const int64_t tokens = saved.normed.dim(1);
  const Tensor dout = dy.contiguous().reshape(Shape{1, tokens, channels_});
  Tensor dproj = matrix_gradient(grads, *proj_w_);
  const Tensor dattended =
      ops::linear_backward(saved.attended, as_matrix(proj_w_->value), dout, &dproj, &grads.of(*proj_b_));
  const float scale = 1.0f / std::sqrt(static_cast<float>(channels_));
  const ops::CausalAttentionGrads g =
      ops::causal_attention_backward(saved.q, saved.k, saved.v, 0, scale, dattended);
  auto projection_backward = [&](const Tensor& dprojected, Parameter* w, Parameter* b) {
    Tensor dw = matrix_gradient(grads, *w);
    return ops::linear_backward(saved.normed, as_matrix(w->value), dprojected, &dw, &grads.of(*b));
  };
  Tensor dnormed = projection_backward(g.dq, q_w_, q_b_);
  ops::accumulate_(dnormed, projection_backward(g.dk, k_w_, k_b_));
  ops::accumulate_(dnormed, projection_backward(g.dv, v_w_, v_b_));
  Tensor dx = norm_.backward(saved.x, false, dnormed.reshape(saved.x.shape()), grads);
  add_in_place(dx, dy.contiguous());
  saved = {};
  return dx;
}

Tensor Upsample3D::forward(const Tensor& x, UpsampleSaved& saved) const {
  saved.x_shape = x.shape();
  saved.up = ops::upsample_nearest3d(x.contiguous(), 2, 2, 2);
  saved.norm1_in = conv1_.forward_uncached(saved.up);
  saved.conv2_in = norm1_.forward(saved.norm1_in, true);
  saved.norm2_in = conv2_.forward_uncached(saved.conv2_in);
  Tensor h = norm2_.forward(saved.norm2_in, false);
  add_in_place(h, saved.up);
  saved.sum = h.clone();
  ops::silu_(h);
  add_in_place(h, saved.up);
  return h;
}

Tensor Upsample3D::backward(const Tensor& dy, UpsampleSaved& saved, Gradients& grads) const {
  const Tensor dsum = ops::silu_backward(saved.sum, dy.contiguous());
  Tensor dup = dy.contiguous().clone();  // the outer "+ up"
  add_in_place(dup, dsum);               // the inner one
  Tensor d = norm2_.backward(saved.norm2_in, false, dsum, grads);
  d = conv2_.backward(saved.conv2_in, d, grads);
  d = norm1_.backward(saved.norm1_in, true, d, grads);
  add_in_place(dup, conv1_.backward(saved.up, d, grads));
  const Shape x_shape = saved.x_shape;
  saved = {};
  return ops::upsample_nearest3d_backward(dup, x_shape, 2, 2, 2);
}

Tensor Upsample2D::forward(const Tensor& x, Tensor& saved) const {
  saved = ops::upsample_nearest3d(x.contiguous(), 1, 2, 2);
  return conv_.forward_uncached(saved);
}

Tensor Upsample2D::backward(const Tensor& dy, Tensor& saved, Gradients& grads) const {
  const Tensor d = conv_.backward(saved, dy, grads);
  const Shape x_shape{saved.dim(0), saved.dim(1), saved.dim(2) / 2, saved.dim(3) / 2, saved.dim(4)};
  saved = Tensor();
  return ops::upsample_nearest3d_backward(d, x_shape, 1, 2, 2);
}

}  // namespace sv::vae
