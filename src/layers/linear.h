// torch.nn.Linear bound by checkpoint name: <scope>.weight [out, in] and
// optionally <scope>.bias [out].
#pragma once

#include "layers/parameter.h"

namespace sv {

class Gradients;

class Linear {
 public:
  Linear(const Scope& scope, int64_t in, int64_t out, bool bias, Shard shard = {});
  Tensor operator()(const Tensor& x) const;

  // Training: the forward keeping what the backward needs (its input), and
  // the backward returning dx and adding dW (and db) to `grads`. Needs f32
  // weights (the master weights training loads).
  struct Saved {
    Tensor x;
  };
  Tensor forward(const Tensor& x, Saved& saved) const;
  Tensor backward(const Tensor& dy, const Saved& saved, Gradients& grads) const;
  // The parameter gradients only, when the input needs none (a model input).
  void backward_parameters(const Tensor& dy, const Saved& saved, Gradients& grads) const;
  const Tensor& weight() const { return weight_->value; }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

 private:
  Parameter* weight_;
  Parameter* bias_ = nullptr;
  int64_t in_, out_;
};

}  // namespace sv
