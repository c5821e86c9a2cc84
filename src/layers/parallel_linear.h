// Tensor-parallel linears (Megatron's pair). Each owns its shard rule and
// the collectives of its forward and backward, so the blocks that use them
// contain no tensor-parallel code:
//   ColumnParallelLinear: W split by output features. Forward needs no
//     communication (each rank makes its slice of the output); backward sums
//     the partial input gradients over the tp group.
//   RowParallelLinear: W split by input features. Forward sums the partial
//     outputs over the tp group (then adds the bias once); backward needs no
//     communication (each rank's input gradient is its slice).
#pragma once

#include "layers/linear.h"
#include "parallel/communicator.h"

namespace sv {

class ColumnParallelLinear {
 public:
  // out is the full output width; this rank holds out / tp.size() of it.
  ColumnParallelLinear(const Scope& scope, int64_t in, int64_t out, bool bias, Communicator& tp);
  Tensor operator()(const Tensor& x) const { return local_(x); }  // [..., out / tp]

  using Saved = Linear::Saved;
  Tensor forward(const Tensor& x, Saved& saved) const { return local_.forward(x, saved); }
  Tensor backward(const Tensor& dy, const Saved& saved, Gradients& grads) const;

 private:
  Communicator* tp_;
  Linear local_;
};

class RowParallelLinear {
 public:
  // in is the full input width; this rank takes in / tp.size() of it.
  RowParallelLinear(const Scope& scope, int64_t in, int64_t out, bool bias, Communicator& tp);
  Tensor operator()(const Tensor& x) const;  // x: [..., in / tp] -> complete [..., out]

  using Saved = Linear::Saved;
  Tensor forward(const Tensor& x, Saved& saved) const;
  Tensor backward(const Tensor& dy, const Saved& saved, Gradients& grads) const;

 private:
  Communicator* tp_;
  Linear local_;  // without bias: the bias is added after the reduction
  Parameter* bias_ = nullptr;
  Tensor add_bias(Tensor y) const;
};

}  // namespace sv
