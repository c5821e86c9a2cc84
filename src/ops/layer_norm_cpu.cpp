#include <omp.h>

#include <cmath>
#include <vector>

#include "ops/layer_norm.h"
#include "ops/op_checks.h"

namespace sv::ops {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  require_f32_contiguous(x, "layer_norm", "input");
  const int64_t d = x.dim(-1);
  const int64_t rows = d ? x.numel() / d : 0;
  const float* w = nullptr;
  const float* b = nullptr;
  if (weight.defined()) {
    require_f32_contiguous(weight, "layer_norm", "weight");
    SV_CHECK(weight.numel() == d, "layer_norm: weight {} for input {}", weight.describe(),
             x.describe());
    w = weight.data<float>();
  }
  if (bias.defined()) {
    require_f32_contiguous(bias, "layer_norm", "bias");
    SV_CHECK(bias.numel() == d, "layer_norm: bias {} for input {}", bias.describe(), x.describe());
    b = bias.data<float>();
  }
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
#pragma omp parallel for schedule(static) if (rows * d > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = xp + r * d;
    float* yr = yp + r * d;
    // Two passes in double: the biased variance of rows with a large mean
    // loses digits in f32, and this is cheap next to the GEMMs.
    double sum = 0.0;
    for (int64_t i = 0; i < d; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(d);
    double sq = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      const double c = xr[i] - mean;
      sq += c * c;
    }
    const double var = sq / static_cast<double>(d);
    const auto inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    const auto m = static_cast<float>(mean);
    for (int64_t i = 0; i < d; ++i) {
      float v = (xr[i] - m) * inv;
      if (w) v *= w[i];
      if (b) v += b[i];
      yr[i] = v;
    }
  }
  return y;
}

Tensor layer_norm_backward(const Tensor& x, const Tensor& weight, float eps, const Tensor& dy, Tensor* dweight,
                           Tensor* dbias) {
  constexpr const char* op = "layer_norm_backward";
  require_f32_contiguous(x, op, "input");
  require_gradient_like(dy, x, op);
  const int64_t d = x.dim(-1);
  const int64_t rows = d ? x.numel() / d : 0;
  const float* w = optional_feature_vector(weight, x, op, "weight");
  SV_CHECK(w || !dweight, "{}: a weight gradient without a weight", op);
  float* dw = optional_feature_gradient(dweight, x, op, "weight gradient");
  float* db = optional_feature_gradient(dbias, x, op, "bias gradient");
  Tensor dx = Tensor::empty(x.shape(), DType::F32);
  const float* xp = x.data<float>();
  const float* gp = dy.data<float>();
  float* dxp = dx.data<float>();
  // Rows in parallel; each thread sums its rows' weight and bias gradients in
  // double, and the partial sums are added in thread order (deterministic for
  // a given thread count).
  const int parts = rows * d > (1 << 14) ? omp_get_max_threads() : 1;
  const auto ud = static_cast<size_t>(d);
  std::vector<double> dw_part(dw ? static_cast<size_t>(parts) * ud : 0, 0.0);
  std::vector<double> db_part(db ? static_cast<size_t>(parts) * ud : 0, 0.0);
  // With x_hat = (x - mean) r and g = dy * w:
  // dx = r (g - mean(g) - x_hat mean(g x_hat)).
#pragma omp parallel num_threads(parts)
  {
    const auto t = static_cast<size_t>(omp_get_thread_num());
    double* dw_sum = dw ? dw_part.data() + t * ud : nullptr;
    double* db_sum = db ? db_part.data() + t * ud : nullptr;
    std::vector<double> x_hat(ud), g(ud);
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      const float* xr = xp + row * d;
      const float* gr = gp + row * d;
      double sum = 0.0;
      for (int64_t i = 0; i < d; ++i) sum += xr[i];
      const double mean = sum / static_cast<double>(d);
      double sq = 0.0;
      for (int64_t i = 0; i < d; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
      const double r = 1.0 / std::sqrt(sq / static_cast<double>(d) + static_cast<double>(eps));
      double g_mean = 0.0, gx_mean = 0.0;
      for (int64_t i = 0; i < d; ++i) {
        const auto k = static_cast<size_t>(i);
        x_hat[k] = (xr[i] - mean) * r;
        g[k] = w ? static_cast<double>(gr[i]) * w[i] : gr[i];
        g_mean += g[k];
        gx_mean += g[k] * x_hat[k];
        if (dw_sum) dw_sum[k] += gr[i] * x_hat[k];
        if (db_sum) db_sum[k] += gr[i];
      }
      g_mean /= static_cast<double>(d);
      gx_mean /= static_cast<double>(d);
      for (int64_t i = 0; i < d; ++i) {
        const auto k = static_cast<size_t>(i);
        dxp[row * d + i] = static_cast<float>(r * (g[k] - g_mean - x_hat[k] * gx_mean));
      }
    }
  }
  for (size_t i = 0; i < ud; ++i) {
    double wsum = 0.0, bsum = 0.0;
    for (size_t t = 0; t < static_cast<size_t>(parts); ++t) {
      if (dw) wsum += dw_part[t * ud + i];
      if (db) bsum += db_part[t * ud + i];
    }
    if (dw) dw[i] += static_cast<float>(wsum);
    if (db) db[i] += static_cast<float>(bsum);
  }
  return dx;
}

}  // namespace sv::ops
