// Seeded Gaussian noise that is identical on every device, thread count and
// parallel layout: element i of a tensor depends only on (seed, i).
//
// Generator: Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC'11) with key = (seed low 32 bits, seed high 32 bits) and
// counter = (i / 4 low, i / 4 high, stream, 0); its four 32-bit outputs become
// four normals by Box-Muller: u1 = (a + 1) / 2^32 (never 0), u2 = b / 2^32,
// r = sqrt(-2 ln u1), normals r cos(2 pi u2), r sin(2 pi u2) for (a, b) =
// (x0, x1) and (x2, x3). Element i takes normal i % 4 of block i / 4, computed
// in double and rounded to f32.
#pragma once

#include <array>
#include <cstdint>

#include "core/tensor.h"

namespace sv {

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter,
                                      std::array<uint32_t, 2> key);

// f32 tensor of N(0, 1) samples; `stream` separates independent draws of one seed.
Tensor gaussian_noise(const Shape& shape, uint64_t seed, uint32_t stream = 0);
// The same values for elements [first, first + count) of such a tensor, so a
// rank can draw only its slice.
void gaussian_noise_range(float* out, int64_t first, int64_t count, uint64_t seed,
                          uint32_t stream = 0);

}  // namespace sv
