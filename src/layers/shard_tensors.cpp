#include "layers/shard_tensors.h"

#include <vector>

#include "core/error.h"

namespace sv {

Tensor take_shard(const Tensor& full, const Shard& shard) {
  if (shard.is_replicated()) return full;
  SV_CHECK(shard.dim < full.rank() && full.dim(shard.dim) % shard.parts == 0,
           "take_shard: {} does not split into {} blocks along dim {}", full.describe(), shard.parts, shard.dim);
  const int64_t width = full.dim(shard.dim) / shard.parts;
  const Tensor view = full.slice(shard.dim, shard.index * width, (shard.index + 1) * width);
  Tensor mine = Tensor::empty(view.shape(), full.dtype());  // its own storage, not a view of `full`
  mine.copy_from(view);
  return mine;
}

Tensor gather_shards(const Tensor& local, const Shard& shard, Communicator& group) {
  if (shard.is_replicated()) return local;
  SV_CHECK(group.size() == shard.parts && group.rank() == shard.index,
           "gather_shards: a {}-way shard (block {}) over a group of {} (rank {})", shard.parts, shard.index,
           group.size(), group.rank());
  SV_CHECK(local.dtype() == DType::F32 && local.is_contiguous(), "gather_shards: {} must be contiguous f32",
           local.describe());
  const int64_t n = local.numel();
  Tensor blocks = Tensor::empty(Shape{shard.parts, n}, DType::F32);
  group.all_gatherv(local.data<float>(), blocks.data<float>(), std::vector<int64_t>(static_cast<size_t>(shard.parts), n));
  std::vector<int64_t> dims = local.shape().dims();
  const int64_t width = dims[static_cast<size_t>(shard.dim)];
  dims[static_cast<size_t>(shard.dim)] *= shard.parts;
  Tensor full = Tensor::empty(Shape(dims), DType::F32);
  for (int64_t i = 0; i < shard.parts; ++i) {
    full.slice(shard.dim, i * width, (i + 1) * width).copy_from(blocks.select(0, i).reshape(local.shape()));
  }
  return full;
}

}  // namespace sv
