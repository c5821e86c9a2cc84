#include "parallel/parallel_groups.h"

#include <fmt/format.h>

namespace sv {

std::string ParallelGroups::describe() const {
  return fmt::format("tp {}/{} sp {}/{} pp {}/{} cfg {}/{} dp {}/{}", tp_rank, tp_size, sp_rank,
                     sp_size, pp_rank, pp_size, cfg_rank, cfg_size, dp_rank, dp_size);
}

}  // namespace sv
