#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/fast_math.h"
#include "ops/group_norm.h"
#include "ops/op_checks.h"

namespace sv::ops {

namespace {

// Per-group sums of one row, accumulated in double per thread and then
// combined: a video frame is one row of ~540k positions, so the row itself
// has to be split across threads, and f32 sums over that many values would
// lose digits the fixtures can see.
void row_group_sums(const float* x, int64_t s, int64_t c, int64_t cg, const double* mean,
                    std::vector<double>& out) {
  const int64_t groups = c / cg;
  std::fill(out.begin(), out.end(), 0.0);
#pragma omp parallel if (s * c > (1 << 16))
  {
    std::vector<double> local(static_cast<size_t>(groups), 0.0);
    std::vector<float> row_acc(static_cast<size_t>(c));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < s; ++p) {
      const float* xr = x + p * c;
      for (int64_t g = 0; g < groups; ++g) {
        const float* xg = xr + g * cg;
        double acc = 0.0;
        if (mean == nullptr) {
          for (int64_t i = 0; i < cg; ++i) acc += xg[i];
        } else {
          const double m = mean[g];
          for (int64_t i = 0; i < cg; ++i) {
            const double d = xg[i] - m;
            acc += d * d;
          }
        }
        local[static_cast<size_t>(g)] += acc;
      }
    }
#pragma omp critical
    for (int64_t g = 0; g < groups; ++g)
      out[static_cast<size_t>(g)] += local[static_cast<size_t>(g)];
  }
}

}  // namespace

void group_norm_into(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                     float eps, bool silu, const Tensor& out) {
  require_f32_contiguous(x, "group_norm", "input");
  require_f32_contiguous(out, "group_norm", "output");
  SV_CHECK(x.rank() == 3, "group_norm: input must be [rows, positions, channels], got {}",
           x.describe());
  SV_CHECK(out.shape() == x.shape(), "group_norm: output {} for input {}", out.describe(),
           x.describe());
  const int64_t rows = x.dim(0), s = x.dim(1), c = x.dim(2);
  SV_CHECK(groups > 0 && c % groups == 0, "group_norm: {} channels do not split into {} groups", c,
           groups);
  SV_CHECK(weight.defined() == bias.defined(), "group_norm: weight and bias go together");
  const float* w = nullptr;
  const float* b = nullptr;
  if (weight.defined()) {
    require_f32_contiguous(weight, "group_norm", "weight");
    require_f32_contiguous(bias, "group_norm", "bias");
    SV_CHECK(weight.numel() == c && bias.numel() == c,
             "group_norm: weight {} bias {} for {} channels", weight.describe(), bias.describe(),
             c);
    w = weight.data<float>();
    b = bias.data<float>();
  }
  const int64_t cg = c / groups;
  const double count = static_cast<double>(s * cg);
  std::vector<double> mean(static_cast<size_t>(groups)), sq(static_cast<size_t>(groups));
  std::vector<float> centre(static_cast<size_t>(c)), scale(static_cast<size_t>(c)),
      shift(static_cast<size_t>(c));
  const float* xp = x.data<float>();
  float* yp = out.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = xp + r * s * c;
    float* yr = yp + r * s * c;
    row_group_sums(xr, s, c, cg, nullptr, mean);
    for (double& m : mean) m /= count;
    row_group_sums(xr, s, c, cg, mean.data(), sq);
    // Centre first, then one multiply-add: folding the mean into the shift
    // would cancel catastrophically when |mean| >> std.
    for (int64_t ch = 0; ch < c; ++ch) {
      const auto g = static_cast<size_t>(ch / cg);
      const double inv = 1.0 / std::sqrt(sq[g] / count + static_cast<double>(eps));
      centre[static_cast<size_t>(ch)] = static_cast<float>(mean[g]);
      scale[static_cast<size_t>(ch)] = static_cast<float>(inv * (w ? w[ch] : 1.0));
      shift[static_cast<size_t>(ch)] = b ? b[ch] : 0.0f;
    }
    const float* ce = centre.data();
    const float* sc = scale.data();
    const float* sh = shift.data();
#pragma omp parallel for schedule(static) if (s * c > (1 << 16))
    for (int64_t p = 0; p < s; ++p) {
      const float* xi = xr + p * c;
      float* yi = yr + p * c;
      if (silu) {
#pragma omp simd
        for (int64_t ch = 0; ch < c; ++ch) {
          const float v = (xi[ch] - ce[ch]) * sc[ch] + sh[ch];
          yi[ch] = v / (1.0f + fast_exp(-v));
        }
      } else {
#pragma omp simd
        for (int64_t ch = 0; ch < c; ++ch) yi[ch] = (xi[ch] - ce[ch]) * sc[ch] + sh[ch];
      }
    }
  }
}

namespace {

// One row's per-group mean and inverse standard deviation, in double.
void row_statistics(const float* xr, int64_t s, int64_t c, int64_t cg, float eps, std::vector<double>& mean,
                    std::vector<double>& rstd) {
  const double count = static_cast<double>(s * cg);
  row_group_sums(xr, s, c, cg, nullptr, mean);
  for (double& m : mean) m /= count;
  row_group_sums(xr, s, c, cg, mean.data(), rstd);
  for (double& v : rstd) v = 1.0 / std::sqrt(v / count + static_cast<double>(eps));
}

}  // namespace

Tensor group_norm_backward(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, float eps,
                           bool silu, const Tensor& dy, Tensor* dweight, Tensor* dbias) {
  require_f32_contiguous(x, "group_norm_backward", "input");
  require_gradient_like(dy, x, "group_norm_backward");
  SV_CHECK(x.rank() == 3, "group_norm_backward: input must be [rows, positions, channels], got {}", x.describe());
  const int64_t rows = x.dim(0), s = x.dim(1), c = x.dim(2);
  SV_CHECK(groups > 0 && c % groups == 0, "group_norm_backward: {} channels do not split into {} groups", c, groups);
  SV_CHECK(weight.defined() == bias.defined(), "group_norm_backward: weight and bias go together");
  const float* w = optional_feature_vector(weight, x, "group_norm_backward", "weight");
  const float* b = optional_feature_vector(bias, x, "group_norm_backward", "bias");
  float* dw = optional_feature_gradient(dweight, x, "group_norm_backward", "weight gradient");
  float* db = optional_feature_gradient(dbias, x, "group_norm_backward", "bias gradient");
  SV_CHECK((!dw && !db) || w, "group_norm_backward: parameter gradients asked for a norm without an affine");
  const int64_t cg = c / groups;
  const double count = static_cast<double>(s * cg);
  // Rows are independent: they run in parallel, each with its own parameter
  // gradient sums, which are then added in row order (the same result for
  // any thread count).
  std::vector<double> dw_rows(static_cast<size_t>(rows * c), 0.0), db_rows(static_cast<size_t>(rows * c), 0.0);
  Tensor dx = Tensor::empty(x.shape(), DType::F32);
#pragma omp parallel for schedule(static) if (rows > 1 && s * c > 4096)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data<float>() + r * s * c;
    const float* dyr = dy.data<float>() + r * s * c;
    float* dxr = dx.data<float>() + r * s * c;
    double* dw_acc = dw_rows.data() + r * c;
    double* db_acc = db_rows.data() + r * c;
    std::vector<double> mean(static_cast<size_t>(groups)), rstd(static_cast<size_t>(groups));
    std::vector<double> sum_g(static_cast<size_t>(groups), 0.0), sum_gx(static_cast<size_t>(groups), 0.0);
    row_statistics(xr, s, c, cg, eps, mean, rstd);
    // g = dz * w (dz: the gradient at the affine's output, through the SiLU
    // when fused) and x_hat, kept for the second pass.
    std::vector<double> g_of(static_cast<size_t>(s * c)), x_hat_of(static_cast<size_t>(s * c));
    for (int64_t i = 0; i < s * c; ++i) {
      const int64_t ch = i % c;
      const auto grp = static_cast<size_t>(ch / cg);
      const double x_hat = (xr[i] - mean[grp]) * rstd[grp];
      double dz = dyr[i];
      if (silu) {
        const double z = x_hat * (w ? w[ch] : 1.0) + (b ? b[ch] : 0.0);
        const double sig = 1.0 / (1.0 + std::exp(-z));
        dz *= sig * (1.0 + z * (1.0 - sig));
      }
      const double g = dz * (w ? w[ch] : 1.0);
      g_of[static_cast<size_t>(i)] = g;
      x_hat_of[static_cast<size_t>(i)] = x_hat;
      sum_g[grp] += g;
      sum_gx[grp] += g * x_hat;
      dw_acc[ch] += dz * x_hat;
      db_acc[ch] += dz;
    }
    // dx = rstd (g - mean(g) - x_hat mean(g x_hat)) over each group's values.
    for (int64_t i = 0; i < s * c; ++i) {
      const auto grp = static_cast<size_t>((i % c) / cg);
      const double x_hat = x_hat_of[static_cast<size_t>(i)];
      dxr[i] = static_cast<float>(rstd[grp] * (g_of[static_cast<size_t>(i)] - sum_g[grp] / count -
                                               x_hat * sum_gx[grp] / count));
    }
  }
  for (int64_t ch = 0; ch < c; ++ch) {
    double sw = 0.0, sb = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      sw += dw_rows[static_cast<size_t>(r * c + ch)];
      sb += db_rows[static_cast<size_t>(r * c + ch)];
    }
    if (dw) dw[ch] += static_cast<float>(sw);
    if (db) db[ch] += static_cast<float>(sb);
  }
  return dx;
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                  float eps, bool silu) {
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  group_norm_into(x, groups, weight, bias, eps, silu, y);
  return y;
}

}  // namespace sv::ops
