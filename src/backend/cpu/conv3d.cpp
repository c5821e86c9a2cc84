#include "backend/cpu/conv3d.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"

namespace sv::cpu {
namespace {

using dnnl::memory;
using Geometry = std::array<int64_t, 4>;  // N, D, H, W of the input

std::string describe_params(const Conv3dParams& p) {
  return fmt::format("stride {}, pad front {}, pad back {}", p.stride, p.pad_front, p.pad_back);
}

// oneDNN takes dimension lists as vectors, always in logical N, C, D, H, W
// order whatever the physical layout.
memory::dims to_dims(const std::array<int64_t, 3>& a) { return {a[0], a[1], a[2]}; }

float* mutable_data(const Tensor& t) {
  // oneDNN's memory objects take non-const pointers even for read-only inputs.
  return t.data<float>();
}

}  // namespace

struct Conv3d::Impl {
  // One compiled convolution for one input geometry.
  struct Plan {
    Geometry geometry{};
    bool accumulate = false;
    memory::desc src_md;
    memory::desc dst_md;
    dnnl::convolution_forward primitive;
    memory weights;  // in the layout this primitive wants
    std::string impl_name;
  };

  Tensor weight;  // kept alive: the user-layout weight memory points into it
  Tensor bias;
  Conv3dParams params;
  int64_t cout = 0;
  int64_t cin = 0;
  std::array<int64_t, 3> kernel{};

  // A CPU engine is a cheap handle with no device context behind it, so each
  // object owning one keeps the house rule of no global device state at no
  // measurable cost. Compiled kernels are still shared between objects through
  // oneDNN's own process-wide primitive cache.
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};

  std::vector<Plan> plans;
  // Reordered weights by layout: different geometries usually agree on the
  // blocked weight layout, and one copy is then enough.
  std::vector<memory> reordered_weights;

  memory::desc user_weight_md() const {
    const std::vector<int64_t>& st = weight.strides();
    return memory::desc({cout, cin, kernel[0], kernel[1], kernel[2]}, memory::data_type::f32,
                        memory::dims(st.begin(), st.end()));
  }

  Shape output_shape(const Shape& in) const {
    SV_CHECK(in.rank() == 5 && in[4] == cin,
             "conv3d: input {} is not [N, D, H, W, Cin={}] for weight {}", in.str(), cin,
             weight.shape().str());
    std::vector<int64_t> out{in[0], 0, 0, 0, cout};
    for (int i = 0; i < 3; ++i) {
      const int64_t padded = in[i + 1] + params.pad_front[i] + params.pad_back[i];
      SV_CHECK(padded >= kernel[i],
               "conv3d: input {} with {} is smaller than kernel of weight {} in dimension {}",
               in.str(), describe_params(params), weight.shape().str(), "DHW"[i]);
      out[i + 1] = (padded - kernel[i]) / params.stride[i] + 1;
    }
    return Shape(std::move(out));
  }

  memory weights_for(const memory::desc& wanted) {
    memory user(user_weight_md(), engine, mutable_data(weight));
    if (wanted == user.get_desc()) return user;
    for (const memory& m : reordered_weights) {
      if (m.get_desc() == wanted) return m;
    }
    memory blocked(wanted, engine);
    dnnl::reorder(user, blocked).execute(stream, user, blocked);
    stream.wait();
    reordered_weights.push_back(blocked);
    return blocked;
  }

  Plan& plan_for(const Shape& in, bool accumulate) {
    const Geometry g{in[0], in[1], in[2], in[3]};
    for (Plan& p : plans) {
      if (p.geometry == g && p.accumulate == accumulate) return p;
    }
    const Shape out = output_shape(in);
    Plan p;
    p.geometry = g;
    p.accumulate = accumulate;
    try {
      p.src_md = memory::desc({in[0], cin, in[1], in[2], in[3]}, memory::data_type::f32,
                              memory::format_tag::ndhwc);
      p.dst_md = memory::desc({out[0], cout, out[1], out[2], out[3]}, memory::data_type::f32,
                              memory::format_tag::ndhwc);
      // `any` lets oneDNN pick the blocked weight layout its kernel reads fastest.
      const memory::desc weight_any({cout, cin, kernel[0], kernel[1], kernel[2]},
                                    memory::data_type::f32, memory::format_tag::any);
      const memory::dims strides = to_dims(params.stride);
      const memory::dims pad_l = to_dims(params.pad_front);
      const memory::dims pad_r = to_dims(params.pad_back);
      const auto prop = dnnl::prop_kind::forward_inference;
      const auto algo = dnnl::algorithm::convolution_direct;
      const bool with_bias = bias.defined() && !accumulate;
      const auto desc =
          with_bias
              ? dnnl::convolution_forward::desc(
                    prop, algo, p.src_md, weight_any,
                    memory::desc({cout}, memory::data_type::f32, memory::format_tag::x), p.dst_md,
                    strides, pad_l, pad_r)
              : dnnl::convolution_forward::desc(prop, algo, p.src_md, weight_any, p.dst_md,
                                                strides, pad_l, pad_r);
      dnnl::primitive_attr attr;
      if (accumulate) {
        dnnl::post_ops ops;
        ops.append_sum(1.0f);
        attr.set_post_ops(ops);
      }
      const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
      p.primitive = dnnl::convolution_forward(pd);
      p.weights = weights_for(pd.weights_desc());
      p.impl_name = pd.impl_info_str();
    } catch (const dnnl::error& e) {
      throw InternalError(fmt::format("conv3d: oneDNN cannot build a convolution for input {}, "
                                      "weight {}, {}: {}",
                                      in.str(), weight.shape().str(), describe_params(params),
                                      e.what()));
    }
    plans.push_back(std::move(p));
    return plans.back();
  }
};

Conv3d::Conv3d(const Tensor& weight, const Tensor& bias, const Conv3dParams& params)
    : impl_(std::make_unique<Impl>()) {
  SV_CHECK(weight.defined() && weight.rank() == 5 && weight.dtype() == DType::F32 &&
               weight.device().is_cpu(),
           "conv3d: weight must be CPU f32 [Cout, Cin, kD, kH, kW], got {}",
           weight.defined() ? weight.describe() : std::string("undefined"));
  for (int i = 0; i < 3; ++i) {
    SV_CHECK(params.stride[i] >= 1 && params.pad_front[i] >= 0 && params.pad_back[i] >= 0,
             "conv3d: invalid parameters ({}) for weight {}", describe_params(params),
             weight.shape().str());
  }
  Impl& m = *impl_;
  m.weight = weight;
  m.params = params;
  m.cout = weight.dim(0);
  m.cin = weight.dim(1);
  m.kernel = {weight.dim(2), weight.dim(3), weight.dim(4)};
  SV_CHECK(m.cout > 0 && m.cin > 0 && m.kernel[0] > 0 && m.kernel[1] > 0 && m.kernel[2] > 0,
           "conv3d: empty weight {}", weight.shape().str());
  if (bias.defined()) {
    SV_CHECK(bias.rank() == 1 && bias.dim(0) == m.cout && bias.dtype() == DType::F32 &&
                 bias.device().is_cpu(),
             "conv3d: bias {} does not match weight {} (want CPU f32 [{}])", bias.describe(),
             weight.shape().str(), m.cout);
    m.bias = bias.contiguous();
  }
}

Conv3d::~Conv3d() = default;
Conv3d::Conv3d(Conv3d&&) noexcept = default;
Conv3d& Conv3d::operator=(Conv3d&&) noexcept = default;

int64_t Conv3d::in_channels() const { return impl_->cin; }
int64_t Conv3d::out_channels() const { return impl_->cout; }
const Conv3dParams& Conv3d::params() const { return impl_->params; }

Shape Conv3d::output_shape(const Shape& input) const { return impl_->output_shape(input); }

std::string Conv3d::impl_name(const Shape& input) {
  return impl_->plan_for(input, false).impl_name;
}

Tensor Conv3d::forward(const Tensor& input) {
  Tensor output = Tensor::empty(impl_->output_shape(input.shape()), DType::F32);
  forward(input, output);
  return output;
}

void Conv3d::forward(const Tensor& input, const Tensor& output, bool accumulate) {
  Impl& m = *impl_;
  SV_CHECK(input.dtype() == DType::F32 && input.device().is_cpu(),
           "conv3d: input must be CPU f32, got {} on {}", input.describe(), input.device().str());
  const Shape out_shape = m.output_shape(input.shape());
  SV_CHECK(output.defined() && output.shape() == out_shape && output.dtype() == DType::F32 &&
               output.device().is_cpu() && output.is_contiguous(),
           "conv3d: output must be contiguous CPU f32 {} for input {} and weight {}, got {}",
           out_shape.str(), input.shape().str(), m.weight.shape().str(),
           output.defined() ? output.describe() : std::string("undefined"));
  if (out_shape.numel() == 0) return;

  const Tensor src = input.contiguous();
  Impl::Plan& plan = m.plan_for(src.shape(), accumulate);
  memory src_mem(plan.src_md, m.engine, mutable_data(src));
  memory dst_mem(plan.dst_md, m.engine, mutable_data(output));
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, plan.weights}, {DNNL_ARG_DST, dst_mem}};
  if (m.bias.defined() && !accumulate) {
    args.emplace(DNNL_ARG_BIAS, memory(memory::desc({m.cout}, memory::data_type::f32,
                                                    memory::format_tag::x),
                                       m.engine, mutable_data(m.bias)));
  }
  try {
    plan.primitive.execute(m.stream, args);
    m.stream.wait();
  } catch (const dnnl::error& e) {
    throw InternalError(fmt::format("conv3d: oneDNN failed on input {} with weight {}: {}",
                                    input.shape().str(), m.weight.shape().str(), e.what()));
  }
}

Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv3dParams& params) {
  Conv3d conv(weight, bias, params);
  return conv.forward(input);
}

}  // namespace sv::cpu
