// Normalisation layers bound by checkpoint name.
#pragma once

#include "layers/parameter.h"

namespace sv {

// LayerNorm over the last axis; with affine it binds <scope>.weight and .bias.
class LayerNorm {
 public:
  LayerNorm(const Scope& scope, int64_t dim, float eps, bool affine);
  Tensor operator()(const Tensor& x) const;

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

 private:
  Parameter* weight_;
  float eps_;
};

}  // namespace sv
