#include "models/text/text_tensor_utils.h"

#include "core/error.h"
#include "ops/op_checks.h"

namespace sv::text {

namespace {

Tensor as_i64(const Tensor& t) {
  if (t.dtype() == DType::I64) return t.contiguous();
  if (t.dtype() == DType::I32) {
    const Tensor c = t.contiguous();
    Tensor out = Tensor::empty(t.shape(), DType::I64);
    const int32_t* src = c.data<int32_t>();
    int64_t* dst = out.data<int64_t>();
    for (int64_t i = 0; i < t.numel(); ++i) dst[i] = src[i];
    return out;
  }
  return Tensor();
}

}  // namespace

Tensor check_token_ids(const Tensor& ids, int64_t vocab, std::string_view who) {
  SV_CHECK_AS(InputError, ids.defined() && ids.rank() == 2 && ids.device().is_cpu(),
              "{}: input_ids should be a CPU [batch, tokens] tensor, got {}", who,
              ids.defined() ? ids.describe() : "nothing");
  const Tensor out = as_i64(ids);
  SV_CHECK_AS(InputError, out.defined(), "{}: input_ids should be integers, got {}", who,
              ids.describe());
  const int64_t* p = out.data<int64_t>();
  for (int64_t i = 0; i < out.numel(); ++i) {
    SV_CHECK_AS(InputError, p[i] >= 0 && p[i] < vocab,
                "{}: token id {} at position {} is outside the vocabulary [0, {})", who, p[i], i,
                vocab);
  }
  return out;
}

Tensor check_mask(const Tensor& mask, const Tensor& ids, std::string_view who) {
  SV_CHECK_AS(InputError, mask.defined() && mask.shape() == ids.shape(),
              "{}: attention_mask {} should have the shape of input_ids {}", who,
              mask.defined() ? mask.describe() : "nothing", ids.describe());
  const Tensor out = as_i64(mask);
  SV_CHECK_AS(InputError, out.defined(), "{}: attention_mask should be integers, got {}", who,
              mask.describe());
  return out;
}

void add_(Tensor& a, const Tensor& b) {
  ops::require_f32_contiguous(a, "add_", "a");
  ops::require_f32_contiguous(b, "add_", "b");
  SV_CHECK(a.shape() == b.shape(), "add_: {} + {}", a.describe(), b.describe());
  float* ap = a.data<float>();
  const float* bp = b.data<float>();
  const int64_t n = a.numel();
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) ap[i] += bp[i];
}

}  // namespace sv::text
