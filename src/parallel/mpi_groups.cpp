#include "parallel/mpi_groups.h"

#include "core/error.h"
#include "core/log.h"
#include "parallel/checked_communicator.h"

namespace sv {

namespace {

// Ranks sharing every coordinate but `varying` form one group; the colour is
// the rank with that coordinate zeroed, the key the coordinate itself.
std::shared_ptr<Communicator> split(const Layout& layout, int world_size, const RankCoords& me,
                                    int RankCoords::*varying, const char* name) {
  RankCoords base = me;
  base.*varying = 0;
  MPI_Comm comm = MPI_COMM_NULL;
  const int code = MPI_Comm_split(MPI_COMM_WORLD, rank_of(layout, world_size, base), me.*varying, &comm);
  SV_CHECK_AS(CommError, code == MPI_SUCCESS, "MPI_Comm_split for the {} group failed", name);
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  return make_mpi_communicator(comm, name);
}

}  // namespace

ParallelGroups make_parallel_groups(const MpiRuntime& runtime, const Layout& layout, int64_t heads,
                                    int64_t layers) {
  validate_layout(layout, runtime.world_size(), heads, layers);
  if (!runtime.active()) return ParallelGroups::single();
  ParallelGroups g;
  g.layout = layout;
  g.world_size = runtime.world_size();
  g.world_rank = runtime.world_rank();
  g.dp_size = data_parallel_size(layout, g.world_size);
  g.coords = rank_coords(layout, g.world_size, g.world_rank);
  MPI_Comm world = MPI_COMM_NULL;
  MPI_Comm_dup(MPI_COMM_WORLD, &world);
  g.world = make_mpi_communicator(world, "world");
  g.tp = split(layout, g.world_size, g.coords, &RankCoords::tp, "tp");
  g.sp = split(layout, g.world_size, g.coords, &RankCoords::sp, "sp");
  g.pp = split(layout, g.world_size, g.coords, &RankCoords::pp, "pp");
  g.cfg = split(layout, g.world_size, g.coords, &RankCoords::cfg, "cfg");
  g.dp = split(layout, g.world_size, g.coords, &RankCoords::dp, "dp");
  MPI_Comm replica = MPI_COMM_NULL;
  SV_CHECK_AS(CommError,
              MPI_Comm_split(MPI_COMM_WORLD, g.coords.dp, g.world_rank, &replica) == MPI_SUCCESS,
              "MPI_Comm_split for the replica group failed");
  MPI_Comm_set_errhandler(replica, MPI_ERRORS_RETURN);
  g.replica = make_mpi_communicator(replica, "replica");
  RankCoords same_slices = g.coords;
  same_slices.dp = same_slices.sp = 0;
  MPI_Comm dp_sp = MPI_COMM_NULL;
  SV_CHECK_AS(CommError,
              MPI_Comm_split(MPI_COMM_WORLD, rank_of(layout, g.world_size, same_slices),
                             g.coords.dp * layout.sp + g.coords.sp, &dp_sp) == MPI_SUCCESS,
              "MPI_Comm_split for the dp x sp group failed");
  MPI_Comm_set_errhandler(dp_sp, MPI_ERRORS_RETURN);
  g.dp_sp = make_mpi_communicator(dp_sp, "dp_sp");
  if (collective_checks_requested()) {
    for (auto* group : {&g.world, &g.tp, &g.sp, &g.pp, &g.cfg, &g.dp, &g.replica, &g.dp_sp}) {
      *group = make_checked_communicator(std::move(*group));
    }
    log_info("{}=1: every collective is checked across its group first", kCheckCollectivesEnv);
  }
  log_info("parallel layout {} ({} replica(s)): {}", layout.str(), g.dp_size, g.describe());
  return g;
}

}  // namespace sv
