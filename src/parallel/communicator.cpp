#include "parallel/communicator.h"

#include <cstring>
#include <numeric>
#include <vector>

#include "core/error.h"

namespace sv {

namespace {

class SelfCommunicator : public Communicator {
 public:
  explicit SelfCommunicator(std::string name) : name_(std::move(name)) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return name_; }
  void all_reduce_sum(float*, int64_t) override {}
  void all_gatherv(const float* send, float* recv, std::span<const int64_t> counts) override {
    copy(send, recv, counts[0]);
  }
  void reduce_scatter_sum(const float* send, float* recv, int64_t count) override {
    copy(send, recv, count);
  }
  void all_to_allv(const float* send, std::span<const int64_t> send_counts, float* recv,
                   std::span<const int64_t>) override {
    copy(send, recv, send_counts[0]);
  }
  void send(const float*, int64_t, int peer, int) override { no_peer(peer); }
  void recv(float*, int64_t, int peer, int) override { no_peer(peer); }
  void send_recv(const float*, int64_t, int to, float*, int64_t, int, int) override { no_peer(to); }
  void broadcast_bytes(void*, int64_t, int) override {}
  void barrier() override {}

 private:
  static void copy(const float* src, float* dst, int64_t n) {
    if (src != dst && n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  }
  void no_peer(int peer) const {
    throw InternalError(name_ + " group has one rank: no peer " + std::to_string(peer));
  }
  std::string name_;
};

constexpr int64_t kF32 = sizeof(float);

}  // namespace

std::shared_ptr<Communicator> make_self_communicator(std::string name) {
  return std::make_shared<SelfCommunicator>(std::move(name));
}

void CountingCommunicator::all_reduce_sum(float* data, int64_t count) {
  // Ring all-reduce: each rank sends 2 (n - 1) / n of the buffer.
  const int n = size();
  bytes_sent_ += n > 1 ? 2 * (n - 1) * count * kF32 / n : 0;
  ++calls_;
  inner_->all_reduce_sum(data, count);
}

void CountingCommunicator::all_gatherv(const float* send_buf, float* recv_buf,
                                       std::span<const int64_t> counts) {
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  bytes_sent_ += (total - counts[static_cast<size_t>(rank())]) * kF32;  // ring: forwards the others' blocks
  ++calls_;
  inner_->all_gatherv(send_buf, recv_buf, counts);
}

void CountingCommunicator::reduce_scatter_sum(const float* send_buf, float* recv_buf, int64_t count) {
  bytes_sent_ += (size() - 1) * count * kF32;
  ++calls_;
  inner_->reduce_scatter_sum(send_buf, recv_buf, count);
}

void CountingCommunicator::all_to_allv(const float* send_buf, std::span<const int64_t> send_counts,
                                       float* recv_buf, std::span<const int64_t> recv_counts) {
  for (size_t j = 0; j < send_counts.size(); ++j) {
    if (static_cast<int>(j) != rank()) bytes_sent_ += send_counts[j] * kF32;
  }
  ++calls_;
  inner_->all_to_allv(send_buf, send_counts, recv_buf, recv_counts);
}

void CountingCommunicator::send(const float* data, int64_t count, int peer, int tag) {
  bytes_sent_ += count * kF32;
  ++calls_;
  inner_->send(data, count, peer, tag);
}

void CountingCommunicator::send_recv(const float* send_buf, int64_t send_count, int to, float* recv_buf,
                                     int64_t recv_count, int from, int tag) {
  bytes_sent_ += send_count * kF32;
  ++calls_;
  inner_->send_recv(send_buf, send_count, to, recv_buf, recv_count, from, tag);
}

void CountingCommunicator::recv(float* data, int64_t count, int peer, int tag) {
  ++calls_;
  inner_->recv(data, count, peer, tag);
}

void CountingCommunicator::broadcast_bytes(void* data, int64_t bytes, int root) {
  if (rank() == root) bytes_sent_ += bytes;  // tree: the root's share, roughly
  ++calls_;
  inner_->broadcast_bytes(data, bytes, root);
}

// Each value travels as two floats: its float rounding and the remainder.
void sum_across(Communicator& comm, std::span<double> values) {
  if (comm.size() == 1) return;
  const size_t n = values.size();
  std::vector<float> mine(2 * n);
  for (size_t i = 0; i < n; ++i) {
    mine[2 * i] = static_cast<float>(values[i]);
    mine[2 * i + 1] = static_cast<float>(values[i] - static_cast<double>(mine[2 * i]));
  }
  std::vector<float> all(mine.size() * static_cast<size_t>(comm.size()));
  comm.all_gatherv(mine.data(), all.data(),
                   std::vector<int64_t>(static_cast<size_t>(comm.size()), static_cast<int64_t>(mine.size())));
  for (size_t i = 0; i < n; ++i) {
    double sum = 0.0;
    for (size_t r = 0; r < static_cast<size_t>(comm.size()); ++r) {
      const float* theirs = all.data() + r * mine.size();
      sum += static_cast<double>(theirs[2 * i]) + static_cast<double>(theirs[2 * i + 1]);
    }
    values[i] = sum;
  }
}

void sum_identically(Communicator& comm, std::span<float> values) {
  if (comm.size() == 1) return;
  const auto n = values.size();
  std::vector<float> all(n * static_cast<size_t>(comm.size()));
  comm.all_gatherv(values.data(), all.data(),
                   std::vector<int64_t>(static_cast<size_t>(comm.size()), static_cast<int64_t>(n)));
  std::copy(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), values.begin());
  for (size_t r = 1; r < static_cast<size_t>(comm.size()); ++r) {
    for (size_t i = 0; i < n; ++i) values[i] += all[r * n + i];
  }
}

double sum_across(Communicator& comm, double value) {
  sum_across(comm, std::span<double>(&value, 1));
  return value;
}

}  // namespace sv
