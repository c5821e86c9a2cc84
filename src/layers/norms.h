// Normalisation layers bound by checkpoint name.
#pragma once

#include "layers/parameter.h"
#include "parallel/communicator.h"

namespace sv {

class Gradients;

// LayerNorm over the last axis; with affine it binds <scope>.weight and .bias.
class LayerNorm {
 public:
  LayerNorm(const Scope& scope, int64_t dim, float eps, bool affine);
  Tensor operator()(const Tensor& x) const;

  // Training: see Linear. The backward adds d weight and d bias (affine only).
  struct Saved {
    Tensor x;
  };
  Tensor forward(const Tensor& x, Saved& saved) const;
  Tensor backward(const Tensor& dy, const Saved& saved, Gradients& grads) const;

 private:
  Parameter* weight_ = nullptr;
  Parameter* bias_ = nullptr;
  float eps_;
};

// RMSNorm with a learned weight (<scope>.weight), applied in place.
class RMSNorm {
 public:
  RMSNorm(const Scope& scope, int64_t dim, float eps);
  void apply_(Tensor& x) const;

  // Training: the input is kept (a copy: the forward normalises in place).
  struct Saved {
    Tensor x;
  };
  void apply_(Tensor& x, Saved& saved) const;
  Tensor backward(const Tensor& dy, const Saved& saved, Gradients& grads) const;
  // The same, for a norm that sees only this rank's share of its rows while
  // every rank holds the whole weight (the attention's q/k norms under tensor
  // parallel: each rank has its own heads): this rank's weight gradient is
  // summed over `group` before it is added, so every rank adds the full one.
  Tensor backward(const Tensor& dy, const Saved& saved, Gradients& grads, Communicator& group) const;

 private:
  Parameter* weight_;
  float eps_;
};

}  // namespace sv
