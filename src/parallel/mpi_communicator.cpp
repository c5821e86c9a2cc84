#include "parallel/mpi_communicator.h"

#include <climits>
#include <cstdlib>
#include <vector>

#include "core/error.h"

namespace sv {

namespace {

int checked_count(int64_t n, const std::string& group) {
  SV_CHECK_AS(CommError, n >= 0 && n <= INT_MAX,
              "{} group: message of {} elements exceeds MPI's int count", group, n);
  return static_cast<int>(n);
}

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, std::string name) : comm_(comm), name_(std::move(name)) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return name_; }

  void all_reduce_sum(float* data, int64_t count) override {
    check(MPI_Allreduce(MPI_IN_PLACE, data, checked_count(count, name_), MPI_FLOAT, MPI_SUM, comm_),
          "all-reduce");
  }
  void all_gatherv(const float* send_buf, float* recv_buf,
                   std::span<const int64_t> counts) override {
    std::vector<int> c(counts.size()), displ(counts.size());
    int64_t offset = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      c[i] = checked_count(counts[i], name_);
      displ[i] = checked_count(offset, name_);
      offset += counts[i];
    }
    check(MPI_Allgatherv(send_buf, c[static_cast<size_t>(rank_)], MPI_FLOAT, recv_buf, c.data(),
                         displ.data(), MPI_FLOAT, comm_),
          "all-gather");
  }
  void reduce_scatter_sum(const float* send_buf, float* recv_buf, int64_t count) override {
    check(MPI_Reduce_scatter_block(send_buf, recv_buf, checked_count(count, name_), MPI_FLOAT,
                                   MPI_SUM, comm_),
          "reduce-scatter");
  }
  void all_to_allv(const float* send_buf, std::span<const int64_t> send_counts, float* recv_buf,
                   std::span<const int64_t> recv_counts) override {
    const size_t n = static_cast<size_t>(size_);
    std::vector<int> sc(n), sd(n), rc(n), rd(n);
    int64_t so = 0, ro = 0;
    for (size_t i = 0; i < n; ++i) {
      sc[i] = checked_count(send_counts[i], name_);
      sd[i] = checked_count(so, name_);
      rc[i] = checked_count(recv_counts[i], name_);
      rd[i] = checked_count(ro, name_);
      so += send_counts[i];
      ro += recv_counts[i];
    }
    check(MPI_Alltoallv(send_buf, sc.data(), sd.data(), MPI_FLOAT, recv_buf, rc.data(), rd.data(),
                        MPI_FLOAT, comm_),
          "all-to-all");
  }
  void send(const float* data, int64_t count, int peer, int tag) override {
    check(MPI_Send(data, checked_count(count, name_), MPI_FLOAT, peer, tag, comm_), "send");
  }
  void recv(float* data, int64_t count, int peer, int tag) override {
    check(MPI_Recv(data, checked_count(count, name_), MPI_FLOAT, peer, tag, comm_,
                   MPI_STATUS_IGNORE),
          "receive");
  }
  void send_recv(const float* send_buf, int64_t send_count, int to, float* recv_buf, int64_t recv_count, int from,
                 int tag) override {
    check(MPI_Sendrecv(send_buf, checked_count(send_count, name_), MPI_FLOAT, to, tag, recv_buf,
                       checked_count(recv_count, name_), MPI_FLOAT, from, tag, comm_, MPI_STATUS_IGNORE),
          "send-receive");
  }
  void broadcast_bytes(void* data, int64_t bytes, int root) override {
    check(MPI_Bcast(data, checked_count(bytes, name_), MPI_BYTE, root, comm_), "broadcast");
  }
  void barrier() override { check(MPI_Barrier(comm_), "barrier"); }

 private:
  void check(int code, const char* what) const {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, text, &len);
    throw CommError(name_ + " group: " + what + " failed: " + std::string(text, static_cast<size_t>(len)));
  }
  MPI_Comm comm_;
  std::string name_;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::shared_ptr<Communicator> make_mpi_communicator(MPI_Comm comm, std::string name) {
  return std::make_shared<MpiCommunicator>(comm, std::move(name));
}

bool MpiRuntime::launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(var)) return true;
  }
  return false;
}

MpiRuntime::MpiRuntime(int* argc, char*** argv) {
  if (!launched_by_mpi()) return;
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
  thread_multiple_ = provided >= MPI_THREAD_MULTIPLE;
  // Errors come back as codes, so they become CommError with a message.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  active_ = true;
}

MpiRuntime::~MpiRuntime() {
  if (active_) MPI_Finalize();
}

void MpiRuntime::abort(int code) const {
  if (active_ && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

}  // namespace sv
