// Helpers shared by unit tests: seeded random tensors and error metrics
// against double-precision references.
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include "core/tensor.h"

namespace sv::test {

inline Tensor random_tensor(const Shape& shape, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  Tensor t = Tensor::empty(shape, DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

inline std::vector<double> to_double(const Tensor& t) {
  const Tensor c = t.contiguous();
  return std::vector<double>(c.data<float>(), c.data<float>() + c.numel());
}

// ||out - ref|| / ||ref||
inline double rel_l2(const Tensor& out, const std::vector<double>& ref) {
  const std::vector<double> o = to_double(out);
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (o[i] - ref[i]) * (o[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1.0));
}

inline double max_abs_err(const Tensor& out, const std::vector<double>& ref) {
  const std::vector<double> o = to_double(out);
  double m = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) m = std::max(m, std::fabs(o[i] - ref[i]));
  return m;
}

}  // namespace sv::test
