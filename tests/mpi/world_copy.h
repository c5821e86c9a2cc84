// A "dp" communicator over a copy of MPI_COMM_WORLD for the comm tests, with
// errors returned (so a failing collective fails the test, not the job).
#pragma once

#include <mpi.h>

#include <memory>

#include "parallel/mpi_communicator.h"

namespace sv::test_support {

inline std::shared_ptr<Communicator> dp_world_copy() {
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  return make_mpi_communicator(comm, "dp");
}

}  // namespace sv::test_support
