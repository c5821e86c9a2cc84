// 3D convolution (f32) on the CPU through oneDNN's convolution primitive.
//
// Activations are channel-last, [N, D, H, W, C]: oneDNN's direct kernels run
// on that layout without reordering the (large) activations, so the
// Video-VAE keeps its feature maps in it. Weights come as PyTorch stores them,
// [Cout, Cin, kD, kH, kW], and are reordered once into oneDNN's blocked layout.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "core/shape.h"
#include "core/tensor.h"

namespace sv::cpu {

// Per spatial dimension (d, h, w). Padding is given front and back separately
// because causal convolutions pad time on one side only (e.g. front 2, back 0).
// Dilation is always 1: nothing in the model uses another value.
struct Conv3dParams {
  std::array<int64_t, 3> stride{1, 1, 1};
  std::array<int64_t, 3> pad_front{0, 0, 0};
  std::array<int64_t, 3> pad_back{0, 0, 0};

  // Same stride and symmetric padding in every dimension.
  static Conv3dParams uniform(int64_t stride, int64_t pad) {
    return {{stride, stride, stride}, {pad, pad, pad}, {pad, pad, pad}};
  }
};

// A convolution with fixed weights, reusable across inputs. Primitives and
// reordered weights are built on the first call for each input geometry
// (N, D, H, W) and kept, so a VAE decoding chunk after chunk of one size pays
// for primitive creation and the weight reorder once.
//
// Not safe to call forward() on one object from several threads at once (the
// geometry cache is unguarded); use one object per thread if that is needed.
class Conv3d {
 public:
  // weight: f32 [Cout, Cin, kD, kH, kW], contiguous or a strided view (e.g.
  // one time tap of a larger kernel); bias: f32 [Cout] or an undefined Tensor
  // for none. The object keeps views of both (no copy), so they must not be
  // modified afterwards.
  Conv3d(const Tensor& weight, const Tensor& bias, const Conv3dParams& params);
  ~Conv3d();
  Conv3d(Conv3d&&) noexcept;
  Conv3d& operator=(Conv3d&&) noexcept;
  Conv3d(const Conv3d&) = delete;
  Conv3d& operator=(const Conv3d&) = delete;

  // input: f32 [N, D, H, W, Cin] (made contiguous if it is not).
  // Returns f32 [N, Do, Ho, Wo, Cout].
  Tensor forward(const Tensor& input);
  // Writes into `output`, which must be contiguous f32 of output_shape(input).
  // accumulate: output += convolution without the bias (oneDNN's sum
  // post-op), for convolutions computed as a sum over kernel slices.
  void forward(const Tensor& input, const Tensor& output, bool accumulate = false);

  // Throws InternalError naming the shapes if `input` does not fit.
  Shape output_shape(const Shape& input) const;
  // oneDNN's name for the kernel chosen for this input geometry, for benchmark
  // and log lines (a "ref" kernel here means something is badly slow).
  std::string impl_name(const Shape& input);

  int64_t in_channels() const;
  int64_t out_channels() const;
  const Conv3dParams& params() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Backward of conv3d(input, weight, bias, params) (VAE training), through
// oneDNN's backward-data and backward-weights primitives: returns d input
// ([N, D, H, W, Cin]) from the output gradient dy ([N, Do, Ho, Wo, Cout]);
// adds d weight ([Cout, Cin, kD, kH, kW], contiguous) and d bias ([Cout]) to
// the buffers when they are given. One-shot: primitives are built per call.
Tensor conv3d_backward(const Tensor& input, const Tensor& weight, const Conv3dParams& params, const Tensor& dy,
                       Tensor* dweight = nullptr, Tensor* dbias = nullptr);

// One-shot convolution: builds a Conv3d and runs it once. Convenient in tests
// and one-off code; layers that run repeatedly should hold a Conv3d.
Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv3dParams& params);

}  // namespace sv::cpu
