// NCCL implementation of Communicator over GPU buffers: every pointer passed to
// it is a device pointer on the context's device, and work is queued on the
// context's stream. Built only with the CUDA backend (STEPVIDEO_HAVE_NCCL).
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace sv {

class CudaContext;

// Collective over the ranks of `group`: group rank 0 creates the NCCL id and
// MPI broadcasts it. `group` is only used for that bootstrap and stays the
// caller's (not freed here). `ctx` must outlive the communicator.
std::shared_ptr<Communicator> make_nccl_communicator(MPI_Comm group, std::string name,
                                                     const CudaContext& ctx);

// A one-rank NCCL communicator that needs no MPI (tests, single-GPU runs that
// still want the NCCL code path).
std::shared_ptr<Communicator> make_nccl_single_rank_communicator(std::string name,
                                                                 const CudaContext& ctx);

}  // namespace sv
