// Branch-free exp/tanh that GCC vectorises (AVX2/AVX-512) inside plain loops.
// Scalar libm calls would make softmax and GELU cost as much as the GEMMs.
// exp: relative error below 2e-7 over the float range used (about 1 ulp).
#pragma once

#include <cstdint>
#include <cstring>

namespace sv::ops {

inline float fast_exp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;  // exact in few bits, so n * kLn2Hi is exact
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * kLog2e + kRound) - kRound;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  // Taylor polynomial of degree 7 on |r| <= ln2/2 (truncation error < 6e-9).
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &e, sizeof scale);
  return p * scale;
}

// tanh(y) = 1 - 2 / (exp(2y) + 1): exact limits at +-inf, absolute error ~1e-7.
inline float fast_tanh(float y) { return 1.0f - 2.0f / (fast_exp(2.0f * y) + 1.0f); }

}  // namespace sv::ops
