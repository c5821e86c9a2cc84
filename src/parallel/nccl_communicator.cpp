#include "parallel/nccl_communicator.h"

#include <nccl.h>

#include <cstddef>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_context.h"
#include "core/error.h"

namespace sv {

namespace {

// A failed NCCL call becomes a CommError naming the group, the operation and
// NCCL's reason (e.g. "remote process exited" from a peer's crash).
[[noreturn]] void throw_nccl_error(const std::string& group, const char* what, ncclResult_t res) {
  std::string message = fmt::format("{} group: {} failed: {}", group, what, ncclGetErrorString(res));
  const char* detail = ncclGetLastError(nullptr);
  if (detail && *detail) message += fmt::format(" ({})", detail);
  throw CommError(std::move(message));
}

#define SV_NCCL_CHECK(group_name, what, expr)                                  \
  do {                                                                         \
    const ncclResult_t sv_nccl_res_ = (expr);                                  \
    if (sv_nccl_res_ != ncclSuccess) [[unlikely]]                              \
      throw_nccl_error((group_name), (what), sv_nccl_res_);                    \
  } while (false)

size_t checked_count(int64_t n, const std::string& group) {
  SV_CHECK_AS(CommError, n >= 0, "{} group: negative element count {}", group, n);
  return static_cast<size_t>(n);
}

// An exception between ncclGroupStart and ncclGroupEnd must still close the
// group, or the next NCCL call on this thread would be swallowed into it.
class NcclGroup {
 public:
  NcclGroup(const std::string& group, const char* what) : group_(group), what_(what) {
    SV_NCCL_CHECK(group_, what_, ncclGroupStart());
  }
  ~NcclGroup() {
    if (open_) (void)ncclGroupEnd();
  }
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;
  void end() {
    open_ = false;
    SV_NCCL_CHECK(group_, what_, ncclGroupEnd());
  }

 private:
  const std::string& group_;
  const char* what_;
  bool open_ = true;
};

// Every call waits for its own work on the stream before returning, so callers
// may reuse or read buffers immediately, exactly as with MpiCommunicator.
// Later optimisation: return after queueing and let the caller order work on
// the same stream (or record an event), overlapping communication and compute.
class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, std::string name, const CudaContext& ctx)
      : comm_(comm), name_(std::move(name)), ctx_(ctx) {
    SV_NCCL_CHECK(name_, "rank query", ncclCommUserRank(comm_, &rank_));
    SV_NCCL_CHECK(name_, "size query", ncclCommCount(comm_, &size_));
    ctx_.make_current();
    SV_CUDA_CHECK(cudaMalloc(&scratch_, sizeof(float)));
  }
  ~NcclCommunicator() override {
    // No throwing here: the device may already be in an error state.
    (void)cudaSetDevice(ctx_.device_index());
    if (scratch_) (void)cudaFree(scratch_);
    (void)ncclCommDestroy(comm_);
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return name_; }

  void all_reduce_sum(float* data, int64_t count) override {
    ctx_.make_current();
    SV_NCCL_CHECK(name_, "all-reduce",
                  ncclAllReduce(data, data, checked_count(count, name_), ncclFloat, ncclSum,
                                comm_, ctx_.stream()));
    ctx_.synchronize();
  }

  void all_gatherv(const float* send_buf, float* recv_buf,
                   std::span<const int64_t> counts) override {
    check_per_rank(counts, "all-gather");
    ctx_.make_current();
    bool equal = true;
    for (const int64_t c : counts) equal = equal && c == counts[0];
    if (equal) {
      SV_NCCL_CHECK(name_, "all-gather",
                    ncclAllGather(send_buf, recv_buf, checked_count(counts[0], name_), ncclFloat,
                                  comm_, ctx_.stream()));
    } else {
      // One broadcast per rank into its slot; the root's send buffer is the
      // only one NCCL reads. Every rank skips the same empty slots.
      NcclGroup group(name_, "all-gather");
      size_t offset = 0;
      for (int r = 0; r < size_; ++r) {
        const size_t n = checked_count(counts[static_cast<size_t>(r)], name_);
        if (n > 0) {
          SV_NCCL_CHECK(name_, "all-gather",
                        ncclBroadcast(send_buf, recv_buf + offset, n, ncclFloat, r, comm_,
                                      ctx_.stream()));
        }
        offset += n;
      }
      group.end();
    }
    ctx_.synchronize();
  }

  void reduce_scatter_sum(const float* send_buf, float* recv_buf, int64_t count) override {
    ctx_.make_current();
    SV_NCCL_CHECK(name_, "reduce-scatter",
                  ncclReduceScatter(send_buf, recv_buf, checked_count(count, name_), ncclFloat,
                                    ncclSum, comm_, ctx_.stream()));
    ctx_.synchronize();
  }

  void all_to_allv(const float* send_buf, std::span<const int64_t> send_counts, float* recv_buf,
                   std::span<const int64_t> recv_counts) override {
    check_per_rank(send_counts, "all-to-all");
    check_per_rank(recv_counts, "all-to-all");
    ctx_.make_current();
    std::vector<size_t> send_off(static_cast<size_t>(size_) + 1, 0);
    std::vector<size_t> recv_off(static_cast<size_t>(size_) + 1, 0);
    for (size_t i = 0; i < static_cast<size_t>(size_); ++i) {
      send_off[i + 1] = send_off[i] + checked_count(send_counts[i], name_);
      recv_off[i + 1] = recv_off[i] + checked_count(recv_counts[i], name_);
    }
    const size_t self = static_cast<size_t>(rank_);
    const size_t self_n = send_off[self + 1] - send_off[self];
    SV_CHECK_AS(CommError, self_n == recv_off[self + 1] - recv_off[self],
                "{} group: all-to-all sends {} elements to itself but expects {}", name_, self_n,
                recv_off[self + 1] - recv_off[self]);
    // The block a rank keeps is a device copy, not a send to itself.
    if (self_n > 0) {
      SV_CUDA_CHECK(cudaMemcpyAsync(recv_buf + recv_off[self], send_buf + send_off[self],
                                    self_n * sizeof(float), cudaMemcpyDeviceToDevice,
                                    ctx_.stream()));
    }
    NcclGroup group(name_, "all-to-all");
    for (size_t peer = 0; peer < static_cast<size_t>(size_); ++peer) {
      if (peer == self) continue;
      const size_t ns = send_off[peer + 1] - send_off[peer];
      const size_t nr = recv_off[peer + 1] - recv_off[peer];
      if (ns > 0) {
        SV_NCCL_CHECK(name_, "all-to-all",
                      ncclSend(send_buf + send_off[peer], ns, ncclFloat, static_cast<int>(peer),
                               comm_, ctx_.stream()));
      }
      if (nr > 0) {
        SV_NCCL_CHECK(name_, "all-to-all",
                      ncclRecv(recv_buf + recv_off[peer], nr, ncclFloat, static_cast<int>(peer),
                               comm_, ctx_.stream()));
      }
    }
    group.end();
    ctx_.synchronize();
  }

  // NCCL has no tags: messages between a pair of ranks match in call order,
  // so callers must issue sends and receives in the same order on both sides.
  // And as each call waits for completion, a rank must not send to itself.
  void send(const float* data, int64_t count, int peer, int /*tag*/) override {
    check_peer(peer, "send");
    ctx_.make_current();
    SV_NCCL_CHECK(name_, "send",
                  ncclSend(data, checked_count(count, name_), ncclFloat, peer, comm_,
                           ctx_.stream()));
    ctx_.synchronize();
  }
  void recv(float* data, int64_t count, int peer, int /*tag*/) override {
    check_peer(peer, "receive");
    ctx_.make_current();
    SV_NCCL_CHECK(name_, "receive",
                  ncclRecv(data, checked_count(count, name_), ncclFloat, peer, comm_,
                           ctx_.stream()));
    ctx_.synchronize();
  }

  void send_recv(const float* send_buf, int64_t send_count, int to, float* recv_buf, int64_t recv_count, int from,
                 int /*tag*/) override {
    check_peer(to, "send");
    check_peer(from, "receive");
    ctx_.make_current();
    {
      // One group: NCCL posts both before either waits.
      NcclGroup group(name_, "send-receive");
      SV_NCCL_CHECK(name_, "send",
                    ncclSend(send_buf, checked_count(send_count, name_), ncclFloat, to, comm_, ctx_.stream()));
      SV_NCCL_CHECK(name_, "receive",
                    ncclRecv(recv_buf, checked_count(recv_count, name_), ncclFloat, from, comm_, ctx_.stream()));
      group.end();
    }
    ctx_.synchronize();
  }

  void broadcast_bytes(void* data, int64_t bytes, int root) override {
    SV_CHECK_AS(CommError, root >= 0 && root < size_, "{} group: broadcast root {} of {} ranks",
                name_, root, size_);
    ctx_.make_current();
    SV_NCCL_CHECK(name_, "broadcast",
                  ncclBroadcast(data, data, checked_count(bytes, name_), ncclChar, root, comm_,
                                ctx_.stream()));
    ctx_.synchronize();
  }

  // NCCL has no barrier; a one-element all-reduce cannot finish on any rank
  // before every rank has entered it.
  void barrier() override {
    ctx_.make_current();
    SV_NCCL_CHECK(name_, "barrier",
                  ncclAllReduce(scratch_, scratch_, 1, ncclFloat, ncclSum, comm_, ctx_.stream()));
    ctx_.synchronize();
  }

 private:
  void check_per_rank(std::span<const int64_t> counts, const char* what) const {
    SV_CHECK_AS(CommError, counts.size() == static_cast<size_t>(size_),
                "{} group: {} needs {} counts, got {}", name_, what, size_, counts.size());
  }
  void check_peer(int peer, const char* what) const {
    SV_CHECK_AS(CommError, peer >= 0 && peer < size_ && peer != rank_,
                "{} group: {} to/from rank {} (this is rank {} of {})", name_, what, peer, rank_,
                size_);
  }

  ncclComm_t comm_;
  std::string name_;
  const CudaContext& ctx_;
  float* scratch_ = nullptr;
  int rank_ = 0, size_ = 1;
};

void check_mpi(int code, const std::string& group, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw CommError(fmt::format("{} group: {} failed: {}", group, what,
                              std::string(text, static_cast<size_t>(len))));
}

}  // namespace

std::shared_ptr<Communicator> make_nccl_communicator(MPI_Comm group, std::string name,
                                                     const CudaContext& ctx) {
  int rank = 0, size = 1;
  check_mpi(MPI_Comm_rank(group, &rank), name, "NCCL bootstrap (rank query)");
  check_mpi(MPI_Comm_size(group, &size), name, "NCCL bootstrap (size query)");
  // The status travels with the id, so a failure on rank 0 is an error on
  // every rank instead of a hang in ncclCommInitRank.
  struct Bootstrap {
    ncclResult_t status;
    ncclUniqueId id;
  } boot{};
  if (rank == 0) boot.status = ncclGetUniqueId(&boot.id);
  check_mpi(MPI_Bcast(&boot, static_cast<int>(sizeof(boot)), MPI_BYTE, 0, group), name,
            "NCCL id broadcast");
  SV_NCCL_CHECK(name, "NCCL id creation on rank 0", boot.status);
  ctx.make_current();  // NCCL binds the communicator to the current device
  ncclComm_t comm = nullptr;
  SV_NCCL_CHECK(name, "NCCL init", ncclCommInitRank(&comm, size, boot.id, rank));
  try {
    return std::make_shared<NcclCommunicator>(comm, std::move(name), ctx);
  } catch (...) {
    (void)ncclCommDestroy(comm);
    throw;
  }
}

std::shared_ptr<Communicator> make_nccl_single_rank_communicator(std::string name,
                                                                 const CudaContext& ctx) {
  ctx.make_current();
  const int device = ctx.device_index();
  ncclComm_t comm = nullptr;
  SV_NCCL_CHECK(name, "NCCL init", ncclCommInitAll(&comm, 1, &device));
  try {
    return std::make_shared<NcclCommunicator>(comm, std::move(name), ctx);
  } catch (...) {
    (void)ncclCommDestroy(comm);
    throw;
  }
}

}  // namespace sv
