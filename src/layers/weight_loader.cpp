#include "layers/weight_loader.h"

#include <cmath>
#include <random>
#include <set>
#include <string>

#include <fmt/format.h>

#include "core/error.h"

namespace sv {

namespace {

// Copies this rank's slice of a checkpoint tensor into an f32 tensor.
Tensor read_slice(const Tensor& stored, const Parameter& p) {
  Tensor view = stored;
  if (!p.shard.is_replicated()) {
    const int64_t part = p.full_shape[p.shard.dim] / p.shard.parts;
    view = stored.slice(p.shard.dim, part * p.shard.index, part * (p.shard.index + 1));
  }
  // A copy in the stored dtype first: slices of a mapping are strided, and the
  // mapping may be unaligned for f32 access.
  Tensor owned = Tensor::empty(view.shape(), view.dtype());
  owned.copy_from(view);
  return owned.to(DType::F32);
}

// This rank's slice in the stored dtype: a view of the mapping when it is
// contiguous (replicated or split by rows of the file), else a compact copy.
Tensor stored_slice(const Tensor& stored, const Parameter& p) {
  if (p.shard.is_replicated()) return stored;
  const int64_t part = p.full_shape[p.shard.dim] / p.shard.parts;
  const Tensor view = stored.slice(p.shard.dim, part * p.shard.index, part * (p.shard.index + 1));
  return view.is_contiguous() ? view : view.contiguous();
}

}  // namespace

void load_parameters(ParameterRegistry& registry, const io::Checkpoint& checkpoint,
                     const LoadOptions& options) {
  std::vector<std::string> missing, misshaped, wrong_dtype, unexpected;
  std::set<std::string> declared;
  for (const auto& p : registry.parameters()) {
    declared.insert(p->name);
    const io::TensorInfo* info = checkpoint.find(p->name);
    if (!info) {
      missing.push_back(fmt::format("{} {}", p->name, p->full_shape.str()));
      continue;
    }
    if (info->shape != p->full_shape) {
      misshaped.push_back(fmt::format("{} is {} in the file, the model expects {}", p->name,
                                      info->shape.str(), p->full_shape.str()));
    }
    if (info->dtype != DType::F32 && info->dtype != DType::BF16 && info->dtype != DType::F16) {
      wrong_dtype.push_back(fmt::format("{} is {}", p->name, dtype_name(info->dtype)));
    }
  }
  if (!options.allow_unexpected) {
    for (const std::string& name : checkpoint.names()) {
      if (!declared.count(name)) unexpected.push_back(name);
    }
  }
  if (!missing.empty() || !misshaped.empty() || !wrong_dtype.empty() || !unexpected.empty()) {
    std::string message = fmt::format("{} does not match the model:", checkpoint.describe());
    auto add = [&message](const char* what, const std::vector<std::string>& items) {
      if (items.empty()) return;
      constexpr size_t kShown = 8;
      message += fmt::format(" {} {} tensor(s): ", items.size(), what);
      for (size_t i = 0; i < std::min(items.size(), kShown); ++i) {
        message += (i ? "; " : "") + items[i];
      }
      if (items.size() > kShown) message += fmt::format("; ... ({} more)", items.size() - kShown);
      message += ".";
    };
    add("missing", missing);
    add("mis-shaped", misshaped);
    add("non-float", wrong_dtype);
    add("unexpected", unexpected);
    throw CheckpointError(message);
  }
  for (const auto& p : registry.parameters()) {
    if (!p->local) continue;
    const Tensor stored = checkpoint.tensor(p->name);
    const bool narrow = stored.dtype() == DType::BF16 || stored.dtype() == DType::F16;
    if (options.keep_stored_dtype && p->convert_on_use && narrow) {
      p->value = stored_slice(stored, *p);
    } else {
      p->value = read_slice(stored, *p);
    }
  }
}

void init_parameters_random(ParameterRegistry& registry, uint64_t seed) {
  for (const auto& p : registry.parameters()) {
    if (!p->local) continue;
    // Each parameter draws from its own stream keyed by its name, and the
    // whole tensor is drawn before slicing, so every parallel layout sees the
    // same model as one rank does.
    uint64_t h = 1469598103934665603ull;  // FNV-1a of the name
    for (unsigned char ch : p->name) h = (h ^ ch) * 1099511628211ull;
    std::mt19937_64 rng(seed ^ h);
    const Shape& shape = p->full_shape;
    Tensor full = Tensor::empty(shape, DType::F32);
    float* v = full.data<float>();
    const int64_t n = full.numel();
    double bound = 0.0, offset = 0.0;
    switch (p->init) {
      case Init::FanIn: {
        const int64_t fan_in = shape.rank() > 1 ? shape.numel() / shape[0] : shape.numel();
        bound = 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fan_in, 1)));
        break;
      }
      case Init::Bias: bound = 0.02; break;
      case Init::Ones: bound = 0.05; offset = 1.0; break;
      case Init::Zeros: break;
      case Init::Table:
        bound = 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(shape[-1], 1)));
        break;
    }
    std::uniform_real_distribution<double> dist(-bound, bound);
    for (int64_t i = 0; i < n; ++i) {
      v[i] = static_cast<float>(offset + (bound > 0.0 ? dist(rng) : 0.0));
    }
    p->value = read_slice(full, *p);
  }
}

}  // namespace sv
