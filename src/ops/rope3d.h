// 3D rotary position embedding over (frame, row, column) of the patched grid.
#pragma once

#include <array>
#include <cstdint>

#include "core/tensor.h"

namespace sv::ops {

struct RopeGrid {
  int64_t frames = 0, rows = 0, cols = 0;  // patched latent grid
  int64_t tokens() const { return frames * rows * cols; }
};

// The head dimension is split into parts (64/32/32 for a head of 128), one per
// axis; each part is rotated by halves (rotate_half), not interleaved pairs.
struct RopeSplit {
  std::array<int64_t, 3> dims{64, 32, 32};
  float theta = 10000.0f;

  // Upstream fixes 64/32/32 for its heads of 128; other head sizes keep the
  // proportions (half to time, a quarter to each spatial axis), so a head of
  // 128 gets exactly upstream's split. head_dim must be a multiple of 8.
  static RopeSplit for_head_dim(int64_t head_dim) {
    return RopeSplit{{head_dim / 2, head_dim / 4, head_dim / 4}};
  }
};

// x: f32 [B, S, H, head_dim], contiguous, rotated in place. Token s of x sits at
// global grid index first_token + s (token = f*rows*cols + i*cols + j), which
// lets a sequence-parallel rank rotate only its own slice.
void rope3d_(Tensor& x, const RopeGrid& grid, int64_t first_token = 0,
             const RopeSplit& split = RopeSplit{});
// Backward: the rotation is orthogonal, so the gradient is rotated back by
// minus the angle, in place (dy becomes dx).
void rope3d_backward_(Tensor& dy, const RopeGrid& grid, int64_t first_token = 0,
                      const RopeSplit& split = RopeSplit{});

}  // namespace sv::ops
