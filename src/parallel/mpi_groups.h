// Builds ParallelGroups for this rank from the world communicator.
#pragma once

#include "parallel/mpi_communicator.h"
#include "parallel/parallel_groups.h"

namespace sv {

// With an inactive runtime (no launcher) the layout must be all ones and the
// groups are single-rank. Validates the layout against the world size and
// the model (heads, layers) first: ConfigError names the rule.
ParallelGroups make_parallel_groups(const MpiRuntime& runtime, const Layout& layout,
                                    int64_t heads, int64_t layers);

}  // namespace sv
