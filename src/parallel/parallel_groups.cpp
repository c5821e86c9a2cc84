#include "parallel/parallel_groups.h"

#include <fmt/format.h>

namespace sv {

ParallelGroups ParallelGroups::single() {
  ParallelGroups g;
  g.world = make_self_communicator("world");
  g.tp = make_self_communicator("tp");
  g.sp = make_self_communicator("sp");
  g.pp = make_self_communicator("pp");
  g.cfg = make_self_communicator("cfg");
  g.dp = make_self_communicator("dp");
  g.replica = make_self_communicator("replica");
  g.dp_sp = make_self_communicator("dp_sp");
  return g;
}

std::string ParallelGroups::describe() const {
  return fmt::format("rank {}/{}: dp {}/{} cfg {}/{} pp {}/{} sp {}/{} tp {}/{}", world_rank,
                     world_size, coords.dp, dp_size, coords.cfg, layout.cfg, coords.pp, layout.pp,
                     coords.sp, layout.sp, coords.tp, layout.tp);
}

}  // namespace sv
