#include "parallel/message_channel.h"

#include <chrono>
#include <thread>

#include "core/error.h"

namespace sv {

Message MessageChannel::receive(int source, int tag) {
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    if (auto m = poll(source, tag)) return std::move(*m);
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(2));
  }
}

namespace {

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw CommError(fmt::format("message channel: {} failed: {}", what, std::string(text, len)));
}

class MpiMessageChannel : public MessageChannel {
 public:
  explicit MpiMessageChannel(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiMessageChannel() override { MPI_Comm_free(&comm_); }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void send(int dest, int tag, const std::string& text) override {
    check_mpi(MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, dest, tag, comm_), "MPI_Send");
  }

  std::optional<Message> poll(int source, int tag) override {
    int flag = 0;
    MPI_Status status;
    const int src = source == kAnySource ? MPI_ANY_SOURCE : source;
    check_mpi(MPI_Iprobe(src, tag, comm_, &flag, &status), "MPI_Iprobe");
    if (!flag) return std::nullopt;
    int count = 0;
    MPI_Get_count(&status, MPI_CHAR, &count);
    Message m;
    m.source = status.MPI_SOURCE;
    m.tag = status.MPI_TAG;
    m.text.resize(static_cast<size_t>(count));
    check_mpi(MPI_Recv(m.text.data(), count, MPI_CHAR, m.source, m.tag, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
    return m;
  }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::unique_ptr<MessageChannel> make_mpi_message_channel(const MpiRuntime& runtime) {
  SV_CHECK_AS(CommError, runtime.active(), "the message channel needs MPI (started by mpirun or srun)");
  SV_CHECK_AS(CommError, runtime.thread_multiple(),
              "this MPI library does not provide MPI_THREAD_MULTIPLE, which the job coordinator needs");
  MPI_Comm dup;
  check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &dup), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
  return std::make_unique<MpiMessageChannel>(dup);
}

}  // namespace sv
