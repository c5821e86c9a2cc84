#include "backend/cpu/gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include "core/error.h"

namespace sv::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc) {
  if (m == 0 || n == 0) return;
  const dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k,
                                          alpha, a, lda, b, ldb, beta, c, ldc);
  SV_CHECK(status == dnnl_success, "dnnl_sgemm failed (status {}) for m={} n={} k={}",
           static_cast<int>(status), m, n, k);
}

}  // namespace sv::cpu
