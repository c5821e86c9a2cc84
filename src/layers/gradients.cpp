#include "layers/gradients.h"

#include <cstring>

#include "core/error.h"

namespace sv {

Tensor& Gradients::of(const Parameter& parameter) {
  auto it = buffers_.find(&parameter);
  if (it == buffers_.end()) {
    SV_CHECK(parameter.local, "gradient of {}, which another rank holds", parameter.name);
    it = buffers_.emplace(&parameter, Tensor::zeros(parameter.local_shape(), DType::F32)).first;
  }
  return it->second;
}

const Tensor* Gradients::find(const Parameter& parameter) const {
  const auto it = buffers_.find(&parameter);
  return it == buffers_.end() ? nullptr : &it->second;
}

void Gradients::zero() {
  for (auto& [parameter, buffer] : buffers_) {
    std::memset(buffer.data<float>(), 0, static_cast<size_t>(buffer.numel()) * sizeof(float));
  }
}

void Gradients::for_each(const ParameterRegistry& registry,
                         const std::function<void(const Parameter&, Tensor&)>& visit) {
  for (const auto& p : registry.parameters()) {
    const auto it = buffers_.find(p.get());
    if (it != buffers_.end()) visit(*p, it->second);
  }
}

}  // namespace sv
