// Parameter gradients of a training step: one f32 buffer per parameter, in
// the parameter's local shape, created as zeros the first time a layer's
// backward adds to it. Keyed by the registry's Parameter (so by checkpoint
// name): the optimizer, the gradient all-reduce and checkpoints find a
// gradient the way they find its weight (DESIGN.md section 6b).
#pragma once

#include <functional>
#include <unordered_map>

#include "core/tensor.h"
#include "layers/parameter.h"

namespace sv {

class Gradients {
 public:
  // The buffer layers add this parameter's gradient to.
  Tensor& of(const Parameter& parameter);
  // nullptr when no backward has touched the parameter.
  const Tensor* find(const Parameter& parameter) const;
  // Zeroes every buffer (the next accumulation starts over), keeping the memory.
  void zero();
  // Visits every buffer in the registry's declaration order.
  void for_each(const ParameterRegistry& registry,
                const std::function<void(const Parameter&, Tensor&)>& visit);
  size_t size() const { return buffers_.size(); }

 private:
  std::unordered_map<const Parameter*, Tensor> buffers_;
};

}  // namespace sv
