// This rank's place in the parallel layout (DESIGN.md section 5). The MPI
// runtime that builds real sub-communicators arrives with the parallel
// runtime; until then every model is built for a single rank, and layers read
// their shard (tp index and size) from here rather than from globals.
#pragma once

#include <string>

namespace sv {

struct ParallelGroups {
  int tp_size = 1, tp_rank = 0;
  int sp_size = 1, sp_rank = 0;
  int pp_size = 1, pp_rank = 0;
  int cfg_size = 1, cfg_rank = 0;
  int dp_size = 1, dp_rank = 0;

  static ParallelGroups single() { return {}; }
  int world_size() const { return tp_size * sp_size * pp_size * cfg_size * dp_size; }
  std::string describe() const;
};

}  // namespace sv
