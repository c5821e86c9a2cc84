// Between a parameter's full tensor (what checkpoints hold, DESIGN.md 6b) and
// the slice one rank holds under its Shard rule: checkpoints are read on any
// layout by slicing, and written from any layout by gathering.
#pragma once

#include "core/tensor.h"
#include "layers/parameter.h"
#include "parallel/communicator.h"

namespace sv {

// This rank's slice of `full` (a contiguous copy), or `full` itself when the
// rule replicates it. `full` must have the parameter's full shape.
Tensor take_shard(const Tensor& full, const Shard& shard);

// The full tensor, from every rank's slice: an all-gather over `group`, the
// shard.parts ranks that split it (rank i holds block i). `local` itself when
// the rule replicates it.
Tensor gather_shards(const Tensor& local, const Shard& shard, Communicator& group);

}  // namespace sv
