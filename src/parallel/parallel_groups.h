// This rank's place in the parallel layout (DESIGN.md section 5) and the
// communicators of its groups. Passed explicitly to models and stages; there
// is no global communicator.
#pragma once

#include <memory>
#include <string>

#include "parallel/communicator.h"
#include "parallel/layout.h"

namespace sv {

struct ParallelGroups {
  Layout layout;
  RankCoords coords;
  int world_size = 1, world_rank = 0;
  int dp_size = 1;
  // Each group holds the ranks that differ only in that coordinate.
  std::shared_ptr<Communicator> world, tp, sp, pp, cfg, dp;
  // All ranks of this rank's replica (same dp coordinate); rank 0 is its leader.
  std::shared_ptr<Communicator> replica;
  // The ranks holding the same parameter slices (they differ only in dp and
  // sp): a training step's gradients are summed over it, since each holds the
  // contribution of its own samples (dp) and tokens (sp).
  std::shared_ptr<Communicator> dp_sp;

  int tp_size() const { return layout.tp; }
  int tp_rank() const { return coords.tp; }
  int sp_size() const { return layout.sp; }
  int sp_rank() const { return coords.sp; }
  int pp_size() const { return layout.pp; }
  int pp_rank() const { return coords.pp; }
  int cfg_size() const { return layout.cfg; }
  int cfg_rank() const { return coords.cfg; }

  // One rank, every group of size 1.
  static ParallelGroups single();
  std::string describe() const;  // "rank 3/8: dp 0/1 cfg 1/2 pp 0/1 sp 0/2 tp 1/2"
};

}  // namespace sv
