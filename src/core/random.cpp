#include "core/random.h"

#include <cmath>

namespace sv {

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kMul0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kMul1) * c[2];
    c = {static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<uint32_t>(p1),
         static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<uint32_t>(p0)};
    k[0] += kWeyl0;
    k[1] += kWeyl1;
  }
  return c;
}

void gaussian_noise_range(float* out, int64_t first, int64_t count, uint64_t seed,
                          uint32_t stream) {
  const std::array<uint32_t, 2> key{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  constexpr double kInv2Pow32 = 1.0 / 4294967296.0;
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (int64_t j = 0; j < count; ++j) {
    const auto i = static_cast<uint64_t>(first + j);
    const uint64_t block = i / 4;
    const auto r = philox4x32_10(
        {static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), stream, 0u}, key);
    const unsigned lane = static_cast<unsigned>(i % 4);
    const uint32_t a = r[lane < 2 ? 0 : 2], b = r[lane < 2 ? 1 : 3];
    const double u1 = (static_cast<double>(a) + 1.0) * kInv2Pow32;
    const double u2 = static_cast<double>(b) * kInv2Pow32;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = kTwoPi * u2;
    out[j] = static_cast<float>(lane % 2 == 0 ? radius * std::cos(angle) : radius * std::sin(angle));
  }
}

Tensor gaussian_noise(const Shape& shape, uint64_t seed, uint32_t stream) {
  Tensor t = Tensor::empty(shape, DType::F32);
  gaussian_noise_range(t.data<float>(), 0, t.numel(), seed, stream);
  return t;
}

}  // namespace sv
