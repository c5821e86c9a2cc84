#include "layers/parameter.h"

#include "core/error.h"

namespace sv {

Shape Parameter::local_shape() const {
  if (shard.is_replicated()) return full_shape;
  std::vector<int64_t> dims = full_shape.dims();
  dims[static_cast<size_t>(shard.dim)] /= shard.parts;
  return Shape(dims);
}

Parameter& ParameterRegistry::declare(std::string name, Shape shape, Init init, Shard shard) {
  SV_CHECK(find(name) == nullptr, "parameter '{}' declared twice", name);
  if (!shard.is_replicated()) {
    SV_CHECK(shard.dim < shape.rank() && shape[shard.dim] % shard.parts == 0,
             "parameter '{}' {}: dim {} does not split into {} parts", name, shape.str(),
             shard.dim, shard.parts);
  }
  auto p = std::make_unique<Parameter>();
  p->name = std::move(name);
  p->full_shape = std::move(shape);
  p->shard = shard;
  p->init = init;
  params_.push_back(std::move(p));
  return *params_.back();
}

const Parameter* ParameterRegistry::find(std::string_view name) const {
  for (const auto& p : params_) {
    if (p->name == name) return p.get();
  }
  return nullptr;
}

int64_t ParameterRegistry::total_elements() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p->full_shape.numel();
  return n;
}

Scope Scope::child(std::string_view name) const {
  Scope s(*registry_, this->name(name));
  s.local_ = local_;
  s.one_stage_ = one_stage_;
  return s;
}

Scope Scope::child(int64_t index) const { return child(std::string_view(std::to_string(index))); }

Scope Scope::remote() const {
  Scope s = *this;
  s.local_ = false;
  return s;
}

Scope Scope::one_stage() const {
  Scope s = *this;
  s.one_stage_ = true;
  return s;
}

std::string Scope::name(std::string_view leaf) const {
  return prefix_.empty() ? std::string(leaf) : prefix_ + "." + std::string(leaf);
}

Parameter& Scope::param(std::string_view leaf, Shape shape, Init init, Shard shard) const {
  Parameter& p = registry_->declare(name(leaf), std::move(shape), init, shard);
  p.local = local_;
  p.one_stage = one_stage_;
  return p;
}

}  // namespace sv
