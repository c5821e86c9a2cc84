// conv3d_backward (backend/cpu/conv3d.h): oneDNN 2.x's backward primitives
// need the forward's primitive descriptor as a hint; all three share the
// channel-last activation layout of the forward and plain [Cout, Cin, k...]
// weights, so no activation is reordered.
#include <oneapi/dnnl/dnnl.hpp>

#include <fmt/format.h>

#include "backend/cpu/conv3d.h"
#include "core/error.h"

namespace sv::cpu {

namespace {

using dnnl::memory;

memory::dims dims3(const std::array<int64_t, 3>& a) { return {a[0], a[1], a[2]}; }
float* mut(const Tensor& t) { return t.data<float>(); }

// Adds `from` (f32, numel elements) into the gradient buffer `to`.
void add_into(Tensor* to, const Tensor& from, const char* what, const Shape& shape) {
  if (to == nullptr) return;
  SV_CHECK(to->defined() && to->dtype() == DType::F32 && to->is_contiguous() && to->shape() == shape,
           "conv3d_backward: {} must be contiguous f32 {}, got {}", what, shape.str(),
           to->defined() ? to->describe() : std::string("undefined"));
  float* t = to->data<float>();
  const float* f = from.data<float>();
  const int64_t n = from.numel();
  for (int64_t i = 0; i < n; ++i) t[i] += f[i];
}

}  // namespace

Tensor conv3d_backward(const Tensor& input, const Tensor& weight, const Conv3dParams& params, const Tensor& dy,
                       Tensor* dweight, Tensor* dbias) {
  SV_CHECK(input.defined() && input.dtype() == DType::F32 && input.rank() == 5, "conv3d_backward: input {}",
           input.defined() ? input.describe() : std::string("undefined"));
  SV_CHECK(weight.defined() && weight.dtype() == DType::F32 && weight.rank() == 5 && weight.dim(1) == input.dim(4),
           "conv3d_backward: weight {} for input {}", weight.describe(), input.describe());
  const Shape out = Conv3d(weight, Tensor(), params).output_shape(input.shape());
  SV_CHECK(dy.defined() && dy.dtype() == DType::F32 && dy.shape() == out,
           "conv3d_backward: output gradient {} for output {}", dy.defined() ? dy.describe() : "undefined", out.str());
  const int64_t n = input.dim(0), cin = input.dim(4), cout = weight.dim(0);
  const Tensor src = input.contiguous(), w = weight.contiguous(), diff_dst = dy.contiguous();
  const memory::dims kernel{cout, cin, weight.dim(2), weight.dim(3), weight.dim(4)};
  const memory::desc src_md({n, cin, input.dim(1), input.dim(2), input.dim(3)}, memory::data_type::f32,
                            memory::format_tag::ndhwc);
  const memory::desc dst_md({n, cout, out[1], out[2], out[3]}, memory::data_type::f32, memory::format_tag::ndhwc);
  const memory::desc w_md(kernel, memory::data_type::f32, memory::format_tag::oidhw);
  // `any` weights: with plain oidhw weights oneDNN 2.x falls back to its
  // reference kernels (measured ~100x slower on the VAE's shapes); the
  // blocked layout its jit kernels choose costs one reorder each way.
  const memory::desc w_any(kernel, memory::data_type::f32, memory::format_tag::any);
  const memory::desc b_md({cout}, memory::data_type::f32, memory::format_tag::x);
  const auto algo = dnnl::algorithm::convolution_direct;
  const memory::dims stride = dims3(params.stride), pad_l = dims3(params.pad_front), pad_r = dims3(params.pad_back);
  Tensor dsrc = Tensor::zeros(input.shape(), DType::F32);
  try {
    const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    const dnnl::convolution_forward::primitive_desc hint(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, src_md, w_any, b_md, dst_md, stride,
                                        pad_l, pad_r),
        engine);
    memory dst_mem(dst_md, engine, mut(diff_dst));
    {
      const dnnl::convolution_backward_data::primitive_desc pd(
          dnnl::convolution_backward_data::desc(algo, src_md, w_any, dst_md, stride, pad_l, pad_r), engine, hint);
      memory user_w(w_md, engine, mut(w));
      memory blocked_w = user_w;
      if (pd.weights_desc() != w_md) {
        blocked_w = memory(pd.weights_desc(), engine);
        dnnl::reorder(user_w, blocked_w).execute(stream, user_w, blocked_w);
      }
      dnnl::convolution_backward_data(pd).execute(
          stream, {{DNNL_ARG_DIFF_DST, dst_mem},
                   {DNNL_ARG_WEIGHTS, blocked_w},
                   {DNNL_ARG_DIFF_SRC, memory(src_md, engine, mut(dsrc))}});
    }
    if (dweight || dbias) {
      Tensor dw = Tensor::zeros(weight.shape(), DType::F32), db = Tensor::zeros(Shape{cout}, DType::F32);
      const dnnl::convolution_backward_weights::primitive_desc pd(
          dnnl::convolution_backward_weights::desc(algo, src_md, w_any, b_md, dst_md, stride, pad_l, pad_r), engine,
          hint);
      memory user_dw(w_md, engine, mut(dw));
      memory blocked_dw = pd.diff_weights_desc() == w_md ? user_dw : memory(pd.diff_weights_desc(), engine);
      dnnl::convolution_backward_weights(pd).execute(
          stream, {{DNNL_ARG_SRC, memory(src_md, engine, mut(src))},
                   {DNNL_ARG_DIFF_DST, dst_mem},
                   {DNNL_ARG_DIFF_WEIGHTS, blocked_dw},
                   {DNNL_ARG_DIFF_BIAS, memory(b_md, engine, mut(db))}});
      if (blocked_dw != user_dw) dnnl::reorder(blocked_dw, user_dw).execute(stream, blocked_dw, user_dw);
      stream.wait();
      add_into(dweight, dw, "weight gradient", weight.shape());
      add_into(dbias, db, "bias gradient", Shape{cout});
    }
    stream.wait();
  } catch (const dnnl::error& e) {
    throw InternalError(fmt::format("conv3d_backward: oneDNN failed for input {}, weight {}: {}", input.describe(),
                                    weight.describe(), e.what()));
  }
  return dsrc;
}

}  // namespace sv::cpu
