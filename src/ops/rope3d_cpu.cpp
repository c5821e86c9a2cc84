#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/op_checks.h"
#include "ops/rope3d.h"

namespace sv::ops {

namespace {

// cos/sin tables [positions, D/2] for one part, in f32 as upstream builds them:
// inv_freq = 1 / theta^(2k/D), angle = pos * inv_freq.
struct RopeTable {
  int64_t half = 0;
  std::vector<float> cos, sin;
};

RopeTable make_table(int64_t part_dim, int64_t positions, float theta) {
  RopeTable t;
  t.half = part_dim / 2;
  t.cos.resize(static_cast<size_t>(positions * t.half));
  t.sin.resize(t.cos.size());
  for (int64_t k = 0; k < t.half; ++k) {
    const float expo = static_cast<float>(2 * k) / static_cast<float>(part_dim);
    const float inv_freq = 1.0f / std::pow(theta, expo);
    for (int64_t p = 0; p < positions; ++p) {
      const float angle = static_cast<float>(p) * inv_freq;
      t.cos[static_cast<size_t>(p * t.half + k)] = std::cos(angle);
      t.sin[static_cast<size_t>(p * t.half + k)] = std::sin(angle);
    }
  }
  return t;
}

// Rotates every (lo, hi) pair by its angle times `sign`: +1 is the forward,
// -1 its inverse, which is also its transpose (the backward).
void rotate_(Tensor& x, const RopeGrid& grid, int64_t first_token, const RopeSplit& split, float sign,
             const char* op) {
  require_f32_contiguous(x, op, "input");
  SV_CHECK(x.rank() == 4, "{}: input must be [B, S, H, head_dim], got {}", op, x.describe());
  const int64_t batch = x.dim(0), seq = x.dim(1), heads = x.dim(2), hd = x.dim(3);
  SV_CHECK(split.dims[0] + split.dims[1] + split.dims[2] == hd,
           "{}: channel split {}/{}/{} does not sum to head_dim {}", op, split.dims[0],
           split.dims[1], split.dims[2], hd);
  for (int64_t d : split.dims) SV_CHECK(d % 2 == 0, "{}: odd channel split part {}", op, d);
  SV_CHECK(first_token >= 0 && first_token + seq <= grid.tokens(),
           "{}: tokens [{}, {}) outside the grid of {} tokens", op, first_token, first_token + seq,
           grid.tokens());
  // Upstream sizes every table by the largest coordinate on any axis.
  const int64_t positions = std::max({grid.frames, grid.rows, grid.cols});
  const RopeTable tables[3] = {make_table(split.dims[0], positions, split.theta),
                               make_table(split.dims[1], positions, split.theta),
                               make_table(split.dims[2], positions, split.theta)};
  float* xp = x.data<float>();
  const int64_t plane = grid.rows * grid.cols;
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > (1 << 15))
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      const int64_t token = first_token + s;
      const int64_t pos[3] = {token / plane, (token / grid.cols) % grid.rows, token % grid.cols};
      for (int64_t h = 0; h < heads; ++h) {
        float* v = xp + ((b * seq + s) * heads + h) * hd;
        int64_t offset = 0;
        for (int part = 0; part < 3; ++part) {
          const RopeTable& tab = tables[part];
          const float* c = tab.cos.data() + pos[part] * tab.half;
          const float* sn = tab.sin.data() + pos[part] * tab.half;
          float* lo = v + offset;
          float* hi = lo + tab.half;
          for (int64_t k = 0; k < tab.half; ++k) {
            const float a = lo[k], bb = hi[k];
            const float sine = sign * sn[k];
            lo[k] = a * c[k] - bb * sine;
            hi[k] = bb * c[k] + a * sine;
          }
          offset += split.dims[static_cast<size_t>(part)];
        }
      }
    }
  }
}

}  // namespace

void rope3d_(Tensor& x, const RopeGrid& grid, int64_t first_token, const RopeSplit& split) {
  rotate_(x, grid, first_token, split, 1.0f, "rope3d");
}

void rope3d_backward_(Tensor& dy, const RopeGrid& grid, int64_t first_token, const RopeSplit& split) {
  rotate_(dy, grid, first_token, split, -1.0f, "rope3d_backward");
}

}  // namespace sv::ops
