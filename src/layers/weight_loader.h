// Phase two of weight binding: check a checkpoint against a model's declared
// parameters once, report every problem in one error, then read each rank's
// slice (converted to f32). Adding a layer never touches this file.
#pragma once

#include <cstdint>

#include "io/checkpoint.h"
#include "layers/parameter.h"

namespace sv {

struct LoadOptions {
  // Tensors in the checkpoint that no parameter claims are an error unless
  // allowed (a checkpoint may carry extras, e.g. EMA copies).
  bool allow_unexpected = false;
  // Keep bf16/f16 weights of convert_on_use parameters in their stored dtype
  // (memory-mapped where the slice is contiguous) and widen them per use:
  // halves weight memory for large models at the cost of a conversion per call.
  bool keep_stored_dtype = false;
};

void load_parameters(ParameterRegistry& registry, const io::Checkpoint& checkpoint,
                     const LoadOptions& options = {});

// Deterministic random values for every parameter (benchmarks, tiny models):
// FanIn ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = product of dims after
// the first; Bias ~ U(-0.02, 0.02); Ones = 1 + U(-0.05, 0.05); Table ~ U(-a, a)
// with a = 1/sqrt(last dim).
void init_parameters_random(ParameterRegistry& registry, uint64_t seed);

}  // namespace sv
