// Parameters declared by checkpoint name. A model's constructor only declares
// (name, full shape, shard rule, init rule) through Scopes that mirror the
// upstream module tree; nothing is allocated until weights are loaded or
// initialised, so the declaration of the 30B model is cheap to build and test.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/shape.h"
#include "core/tensor.h"

namespace sv {

// Which slice of a checkpoint tensor this rank holds. Linear weights are
// [out, in]: a column-parallel linear splits dim 0 (output features), a
// row-parallel one dim 1 (input features), into `parts` equal contiguous blocks.
struct Shard {
  int dim = -1;  // -1: replicated
  int parts = 1;
  int index = 0;

  static Shard replicated() { return {}; }
  static Shard columns(int parts, int index) { return {0, parts, index}; }
  static Shard rows(int parts, int index) { return {1, parts, index}; }
  bool is_replicated() const { return dim < 0 || parts == 1; }
};

// How random initialisation (benchmarks, the tiny default model) fills it.
enum class Init { FanIn, Bias, Ones, Zeros, Table };

struct Parameter {
  std::string name;  // full checkpoint name, e.g. transformer_blocks.3.attn1.wqkv.weight
  Shape full_shape;  // as stored in the checkpoint
  Shard shard;
  Init init = Init::FanIn;
  Tensor value;      // f32, this rank's slice; undefined until loaded
  // False for parameters another rank holds (e.g. blocks of another pipeline
  // stage): declared so the checkpoint is checked as a whole, never read here.
  bool local = true;
  // Held by one pipeline stage only (a transformer block's): the gradient
  // norm sums such parameters over the stages, others are on every stage.
  bool one_stage = false;
  // Large matrices a layer widens to f32 only while it uses them (Linear
  // weights). With LoadOptions::keep_stored_dtype they stay bf16 in memory.
  bool convert_on_use = false;

  Shape local_shape() const;
};

class ParameterRegistry {
 public:
  Parameter& declare(std::string name, Shape shape, Init init, Shard shard = {});
  const std::vector<std::unique_ptr<Parameter>>& parameters() const { return params_; }
  const Parameter* find(std::string_view name) const;
  int64_t total_elements() const;  // of the full (unsharded) tensors

 private:
  std::vector<std::unique_ptr<Parameter>> params_;  // stable addresses for layers
};

// A position in the module tree: Scope("transformer_blocks").child(3).child("attn1").
class Scope {
 public:
  explicit Scope(ParameterRegistry& registry, std::string prefix = "")
      : registry_(&registry), prefix_(std::move(prefix)) {}
  Scope child(std::string_view name) const;
  Scope child(int64_t index) const;
  // The same position, declaring parameters that live on another rank.
  Scope remote() const;
  // Parameters that one pipeline stage holds (here or, with remote(), elsewhere).
  Scope one_stage() const;
  std::string name(std::string_view leaf) const;
  Parameter& param(std::string_view leaf, Shape shape, Init init, Shard shard = {}) const;

 private:
  ParameterRegistry* registry_;
  std::string prefix_;
  bool local_ = true;
  bool one_stage_ = false;
};

}  // namespace sv
