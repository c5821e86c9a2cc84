// Collective and point-to-point communication within one group of ranks.
// Implementations: SelfCommunicator (one rank, no-ops), MpiCommunicator (CPU
// buffers), CountingCommunicator (wraps another and counts bytes sent, for
// benchmarks); an NCCL one for GPU buffers plugs in behind the same interface.
// Buffers are f32 unless a method says bytes; counts are in elements.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace sv {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;  // for messages: "tp", "sp", ...

  virtual void all_reduce_sum(float* data, int64_t count) = 0;
  // Every rank contributes counts[rank()] elements; recv holds them in rank order.
  virtual void all_gatherv(const float* send, float* recv, std::span<const int64_t> counts) = 0;
  // Sums `count * size()` elements across ranks and leaves block rank() here.
  virtual void reduce_scatter_sum(const float* send, float* recv, int64_t count) = 0;
  // send_counts[j] elements go to rank j (blocks in rank order); recv_counts[i] come from rank i.
  virtual void all_to_allv(const float* send, std::span<const int64_t> send_counts, float* recv,
                           std::span<const int64_t> recv_counts) = 0;
  virtual void send(const float* data, int64_t count, int peer, int tag) = 0;
  virtual void recv(float* data, int64_t count, int peer, int tag) = 0;
  // A send to `to` and a receive from `from` that proceed together (neither
  // waits for the other to finish): two ranks that each send to the other at
  // once cannot deadlock, as they could with send() then recv().
  virtual void send_recv(const float* send, int64_t send_count, int to, float* recv, int64_t recv_count, int from,
                         int tag) = 0;
  virtual void broadcast_bytes(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
};

std::shared_ptr<Communicator> make_self_communicator(std::string name);

// The sum over the group of one double per rank, to double precision and the
// same bits on every rank (summed in rank order).
double sum_across(Communicator& comm, double value);
// The same for several values at once (one collective), in place.
void sum_across(Communicator& comm, std::span<double> values);
// Element-wise sum over the group, in place, in rank order on every rank, so
// every rank gets the same bits (an all-gather: for small buffers).
void sum_identically(Communicator& comm, std::span<float> values);

// Forwards to `inner` and counts the bytes this rank sends (collectives are
// counted as the standard ring/pairwise algorithms send them).
class CountingCommunicator : public Communicator {
 public:
  explicit CountingCommunicator(std::shared_ptr<Communicator> inner) : inner_(std::move(inner)) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  std::string name() const override { return inner_->name(); }
  void all_reduce_sum(float* data, int64_t count) override;
  void all_gatherv(const float* send, float* recv, std::span<const int64_t> counts) override;
  void reduce_scatter_sum(const float* send, float* recv, int64_t count) override;
  void all_to_allv(const float* send, std::span<const int64_t> send_counts, float* recv,
                   std::span<const int64_t> recv_counts) override;
  void send(const float* data, int64_t count, int peer, int tag) override;
  void recv(float* data, int64_t count, int peer, int tag) override;
  void send_recv(const float* send, int64_t send_count, int to, float* recv, int64_t recv_count, int from,
                 int tag) override;
  void broadcast_bytes(void* data, int64_t bytes, int root) override;
  void barrier() override { inner_->barrier(); }

  int64_t bytes_sent() const { return bytes_sent_; }
  int64_t calls() const { return calls_; }
  void reset() { bytes_sent_ = calls_ = 0; }

 private:
  std::shared_ptr<Communicator> inner_;
  int64_t bytes_sent_ = 0, calls_ = 0;
};

}  // namespace sv
