#include <vector>

#include "backend/cpu/gemm.h"
#include "ops/linear.h"
#include "ops/op_checks.h"

namespace sv::ops {

void linear_into(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& y,
                 bool accumulate) {
  require_f32_contiguous(x, "linear", "input");
  require_f32_contiguous(weight, "linear", "weight");
  require_f32_contiguous(y, "linear", "output");
  SV_CHECK(weight.rank() == 2, "linear: weight must be [out, in], got {}", weight.describe());
  const int64_t in = weight.dim(1), out = weight.dim(0);
  SV_CHECK(x.rank() >= 1 && x.dim(-1) == in, "linear: input {} does not match weight {}",
           x.describe(), weight.describe());
  const int64_t rows = x.numel() / in;
  SV_CHECK(y.numel() == rows * out && y.dim(-1) == out, "linear: output {} for input {} and weight {}",
           y.describe(), x.describe(), weight.describe());
  cpu::sgemm(false, true, rows, out, in, 1.0f, x.data<float>(), in, weight.data<float>(), in,
             accumulate ? 1.0f : 0.0f, y.data<float>(), out);
  if (bias.defined()) {
    require_f32_contiguous(bias, "linear", "bias");
    SV_CHECK(bias.numel() == out, "linear: bias {} for weight {}", bias.describe(),
             weight.describe());
    const float* b = bias.data<float>();
    float* yp = y.data<float>();
#pragma omp parallel for schedule(static) if (rows * out > (1 << 15))
    for (int64_t r = 0; r < rows; ++r) {
      float* row = yp + r * out;
      for (int64_t j = 0; j < out; ++j) row[j] += b[j];
    }
  }
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  SV_CHECK(weight.rank() == 2, "linear: weight must be [out, in], got {}", weight.describe());
  std::vector<int64_t> dims = x.shape().dims();
  SV_CHECK(!dims.empty(), "linear: scalar input");
  dims.back() = weight.dim(0);
  Tensor y = Tensor::empty(Shape(dims), DType::F32);
  linear_into(x, weight, bias, y, false);
  return y;
}

namespace {

// Rows of x and dy after checking they fit the weight.
int64_t check_linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy) {
  require_f32_contiguous(x, "linear_backward", "input");
  require_f32_contiguous(weight, "linear_backward", "weight");
  require_f32_contiguous(dy, "linear_backward", "output gradient");
  SV_CHECK(weight.rank() == 2, "linear_backward: weight must be [out, in], got {}", weight.describe());
  const int64_t in = weight.dim(1), out = weight.dim(0);
  SV_CHECK(x.rank() >= 1 && x.dim(-1) == in, "linear_backward: input {} does not match weight {}", x.describe(),
           weight.describe());
  const int64_t rows = x.numel() / in;
  SV_CHECK(dy.dim(-1) == out && dy.numel() == rows * out, "linear_backward: gradient {} for input {} and weight {}",
           dy.describe(), x.describe(), weight.describe());
  return rows;
}

}  // namespace

void linear_parameter_gradients(const Tensor& x, const Tensor& weight, const Tensor& dy, Tensor* dweight,
                                Tensor* dbias) {
  const int64_t rows = check_linear_backward(x, weight, dy);
  const int64_t in = weight.dim(1), out = weight.dim(0);
  if (dweight) {
    require_f32_contiguous(*dweight, "linear_backward", "weight gradient");
    SV_CHECK(dweight->shape() == weight.shape(), "linear_backward: weight gradient {} for weight {}",
             dweight->describe(), weight.describe());
    // dW[out, in] += dy^T x
    cpu::sgemm(true, false, out, in, rows, 1.0f, dy.data<float>(), out, x.data<float>(), in, 1.0f,
               dweight->data<float>(), in);
  }
  if (dbias) {
    require_f32_contiguous(*dbias, "linear_backward", "bias gradient");
    SV_CHECK(dbias->numel() == out, "linear_backward: bias gradient {} for weight {}", dbias->describe(),
             weight.describe());
    std::vector<double> sum(static_cast<size_t>(out), 0.0);
    const float* g = dy.data<float>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < out; ++j) sum[static_cast<size_t>(j)] += g[r * out + j];
    }
    float* db = dbias->data<float>();
    for (int64_t j = 0; j < out; ++j) db[j] += static_cast<float>(sum[static_cast<size_t>(j)]);
  }
}

Tensor linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, Tensor* dweight, Tensor* dbias) {
  const int64_t rows = check_linear_backward(x, weight, dy);
  const int64_t in = weight.dim(1), out = weight.dim(0);
  Tensor dx = Tensor::empty(x.shape(), DType::F32);
  // dx[rows, in] = dy[rows, out] W[out, in]
  cpu::sgemm(false, false, rows, in, out, 1.0f, dy.data<float>(), out, weight.data<float>(), in, 0.0f,
             dx.data<float>(), in);
  linear_parameter_gradients(x, weight, dy, dweight, dbias);
  return dx;
}

}  // namespace sv::ops
