// Seeded noise: Philox 4x32-10 against the published known-answer vectors,
// and the layout-independence the parallel runtime relies on.
#include <gtest/gtest.h>

#include <cmath>

#include "core/random.h"

namespace sv {
namespace {

TEST(Random, Philox4x32_10KnownAnswers) {
  // Known-answer vectors of the Random123 distribution (kat_vectors).
  using A4 = std::array<uint32_t, 4>;
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (A4{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                          {0xffffffffu, 0xffffffffu}),
            (A4{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                          {0xa4093822u, 0x299f31d0u}),
            (A4{0xd16cfe09u, 0x94fdcceb, 0x5001e420u, 0x24126ea1u}));
}

TEST(Random, SameSeedSameNoiseAnySlicing) {
  const Tensor a = gaussian_noise(Shape{3, 5, 7}, 1234);
  const Tensor b = gaussian_noise(Shape{3, 5, 7}, 1234);
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data<float>()[i], b.data<float>()[i]);
  // A rank drawing only elements [17, 60) gets exactly those values.
  std::vector<float> part(43);
  gaussian_noise_range(part.data(), 17, 43, 1234);
  for (int i = 0; i < 43; ++i) ASSERT_EQ(part[static_cast<size_t>(i)], a.data<float>()[17 + i]);
  const Tensor other = gaussian_noise(Shape{3, 5, 7}, 1235);
  EXPECT_NE(other.data<float>()[0], a.data<float>()[0]);
  const Tensor stream1 = gaussian_noise(Shape{3, 5, 7}, 1234, 1);
  EXPECT_NE(stream1.data<float>()[0], a.data<float>()[0]);
}

TEST(Random, MomentsAreStandardNormal) {
  const Tensor t = gaussian_noise(Shape{1 << 20}, 7);
  double sum = 0, sq = 0, quart = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = t.data<float>()[i];
    sum += v;
    sq += v * v;
    quart += v * v * v * v;
  }
  const double n = static_cast<double>(t.numel());
  EXPECT_NEAR(sum / n, 0.0, 0.005);      // standard error 0.001
  EXPECT_NEAR(sq / n, 1.0, 0.01);        // standard error 0.0014
  EXPECT_NEAR(quart / n, 3.0, 0.05);     // kurtosis of a normal
}

}  // namespace
}  // namespace sv
