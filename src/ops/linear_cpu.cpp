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

}  // namespace sv::ops
