#include "backend/cuda/cublaslt_matmul.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "backend/cuda/cuda_check.h"

namespace sv {

namespace {

// Row-major [rows, cols] with a row stride of `ld` elements.
struct RowMajor {
  int64_t rows;
  int64_t cols;
  int64_t ld;
};

RowMajor row_major(const Tensor& t, const char* name, const Device& device) {
  SV_CHECK(t.rank() == 2, "cuda_matmul: {} must be 2-D, got {}", name, t.describe());
  SV_CHECK(t.device() == device, "cuda_matmul: {} {} is on {}, the context on {}", name,
           t.describe(), t.device().str(), device.str());
  const int64_t rows = t.dim(0);
  const int64_t cols = t.dim(1);
  // Strides of size-1 axes carry no information (views may leave anything there).
  SV_CHECK(cols <= 1 || t.strides()[1] == 1, "cuda_matmul: {} {} has strided rows (strides {}, {})",
           name, t.describe(), t.strides()[0], t.strides()[1]);
  const int64_t ld = rows <= 1 ? std::max<int64_t>(cols, 1) : t.strides()[0];
  SV_CHECK(ld >= cols, "cuda_matmul: {} {} has overlapping rows (row stride {})", name,
           t.describe(), ld);
  return {rows, cols, ld};
}

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return CUDA_R_32F;
    case DType::BF16: return CUDA_R_16BF;
    default: break;
  }
  throw NotSupported(fmt::format("cuda_matmul: no {} support", dtype_name(dtype)));
}

// cuBLASLt assumes 256-byte aligned operands unless told otherwise, and may
// pick a vectorised kernel that faults on a slice that starts mid-row.
uint32_t alignment_of(const void* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  uint32_t alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

template <typename Handle, cublasStatus_t (*Destroy)(Handle)>
struct Destroyer {
  void operator()(Handle h) const { (void)Destroy(h); }
};
template <typename Handle, cublasStatus_t (*Destroy)(Handle)>
using Owned = std::unique_ptr<std::remove_pointer_t<Handle>, Destroyer<Handle, Destroy>>;

using MatmulDesc = Owned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
using Layout = Owned<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;
using Preference = Owned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>;

// cuBLASLt is column-major: a row-major [rows, cols] matrix is, unchanged in
// memory, a column-major [cols, rows] one with the same leading dimension.
Layout column_major_layout(cudaDataType_t type, const RowMajor& m) {
  cublasLtMatrixLayout_t layout = nullptr;
  SV_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, type, static_cast<uint64_t>(m.cols),
                                             static_cast<uint64_t>(m.rows), m.ld));
  return Layout(layout);
}

template <typename T>
void set_attribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const T& v) {
  SV_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, attr, &v, sizeof v));
}

template <typename T>
void set_attribute(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr,
                   const T& v) {
  SV_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &v, sizeof v));
}

}  // namespace

void cuda_matmul(const CudaContext& ctx, const Tensor& a, const Tensor& w, Tensor& c,
                 float alpha, float beta) {
  const RowMajor ma = row_major(a, "a", ctx.device());
  const RowMajor mw = row_major(w, "w", ctx.device());
  const RowMajor mc = row_major(c, "c", ctx.device());
  SV_CHECK(ma.cols == mw.cols && mc.rows == ma.rows && mc.cols == mw.rows,
           "cuda_matmul: shapes do not fit: a {} * w^T with w {} into c {} (want a [M, K], "
           "w [N, K], c [M, N])",
           a.shape().str(), w.shape().str(), c.shape().str());
  const bool f32 = a.dtype() == DType::F32 && w.dtype() == DType::F32 && c.dtype() == DType::F32;
  const bool bf16 = a.dtype() == DType::BF16 && w.dtype() == DType::BF16 &&
                    (c.dtype() == DType::BF16 || c.dtype() == DType::F32);
  if (!f32 && !bf16) {
    throw NotSupported(fmt::format(
        "cuda_matmul: unsupported dtypes a {}, w {}, c {} (want all f32, or bf16 a and w)",
        dtype_name(a.dtype()), dtype_name(w.dtype()), dtype_name(c.dtype())));
  }
  const int64_t m = ma.rows, n = mw.rows, k = ma.cols;
  if (m == 0 || n == 0) return;
  SV_CHECK(k > 0, "cuda_matmul: K = 0 (a {}, w {})", a.describe(), w.describe());

  // CUBLAS_COMPUTE_32F is strict f32 for f32 operands (TF32 needs
  // CUBLAS_COMPUTE_32F_FAST_TF32), and f32 accumulation for bf16 ones.
  cublasLtMatmulDesc_t raw_desc = nullptr;
  SV_CUBLAS_CHECK(cublasLtMatmulDescCreate(&raw_desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const MatmulDesc desc(raw_desc);

  // Row-major C = A*W^T is column-major C^T = W*A^T: in column-major terms the
  // W buffer is W^T [K, N], so cuBLASLt's first operand is W buffer transposed
  // and its second the A buffer as is ([K, M]).
  set_attribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
  set_attribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
  const Layout layout_w = column_major_layout(cuda_type(w.dtype()), mw);
  const Layout layout_a = column_major_layout(cuda_type(a.dtype()), ma);
  const Layout layout_c = column_major_layout(cuda_type(c.dtype()), mc);

  cublasLtMatmulPreference_t raw_pref = nullptr;
  SV_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&raw_pref));
  const Preference pref(raw_pref);
  set_attribute(pref.get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                static_cast<uint64_t>(ctx.workspace_bytes()));
  set_attribute(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                alignment_of(w.raw_data()));
  set_attribute(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                alignment_of(a.raw_data()));
  set_attribute(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                alignment_of(c.raw_data()));
  set_attribute(pref.get(), CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                alignment_of(c.raw_data()));

  ctx.make_current();
  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
      ctx.cublaslt(), desc.get(), layout_w.get(), layout_a.get(), layout_c.get(), layout_c.get(),
      pref.get(), 1, &heuristic, &found);
  // "No algorithm" comes back either way; both deserve the shapes in the message.
  if (status != CUBLAS_STATUS_NOT_SUPPORTED) SV_CUBLAS_CHECK(status);
  SV_CHECK_AS(CudaError, status == CUBLAS_STATUS_SUCCESS && found > 0,
              "cuda_matmul: cuBLASLt has no algorithm for a {} * w^T with w {} into c {} "
              "(row strides {}, {}, {})",
              a.describe(), w.describe(), c.describe(), ma.ld, mw.ld, mc.ld);

  SV_CUBLAS_CHECK(cublasLtMatmul(ctx.cublaslt(), desc.get(), &alpha, w.raw_data(),
                                 layout_w.get(), a.raw_data(), layout_a.get(), &beta,
                                 c.raw_data(), layout_c.get(), c.raw_data(), layout_c.get(),
                                 &heuristic.algo, ctx.workspace(), ctx.workspace_bytes(),
                                 ctx.stream()));
}

}  // namespace sv
