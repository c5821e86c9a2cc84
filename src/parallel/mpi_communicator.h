// MPI implementation of Communicator over CPU buffers, and the MPI process
// runtime (init/finalize, abort-on-error).
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace sv {

// Takes ownership of `comm` (freed on destruction).
std::shared_ptr<Communicator> make_mpi_communicator(MPI_Comm comm, std::string name);

// Initialises MPI only when the process was started by a launcher (mpirun,
// srun): a plain `stepvideo ...` stays a single process without MPI.
class MpiRuntime {
 public:
  MpiRuntime(int* argc, char*** argv);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  bool active() const { return active_; }
  int world_rank() const { return rank_; }
  int world_size() const { return size_; }
  // The job coordinator runs as a thread beside rank 0's worker.
  bool thread_multiple() const { return thread_multiple_; }
  // Ends every rank of the job with this exit code: one rank's error must not
  // leave the others waiting in a collective.
  [[noreturn]] void abort(int code) const;

  static bool launched_by_mpi();

 private:
  bool active_ = false;
  int rank_ = 0, size_ = 1;
  bool thread_multiple_ = false;
};

}  // namespace sv
