#include "parallel/checked_communicator.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.h"

namespace sv {

namespace {

enum class Op : int64_t { AllReduce = 1, AllGather, ReduceScatter, AllToAll, Broadcast, Barrier, PointToPoint };

const char* op_name(int64_t op) {
  switch (static_cast<Op>(op)) {
    case Op::AllReduce: return "all-reduce";
    case Op::AllGather: return "all-gather";
    case Op::ReduceScatter: return "reduce-scatter";
    case Op::AllToAll: return "all-to-all";
    case Op::Broadcast: return "broadcast";
    case Op::Barrier: return "barrier";
    case Op::PointToPoint: return "send";
  }
  return "unknown operation";
}

// What one rank is about to do. Travels through the inner communicator as raw
// 32-bit words in a float buffer: MPI and NCCL move float bits unchanged, so
// no byte-typed operation is needed.
struct Fingerprint {
  int64_t seq = 0;
  int64_t op = 0;
  int64_t count = 0;  // elements (bytes for a broadcast); an all-gather's total
  int64_t root = -1;
  int64_t shape = 0;  // hash of an all-gather's counts; a point-to-point tag
  int64_t local = 0;  // shown, not compared: what an all-to-all sends in all (uneven splits differ)

  bool operator==(const Fingerprint& o) const {
    return seq == o.seq && op == o.op && count == o.count && root == o.root && shape == o.shape;
  }
  static constexpr int64_t kWords = 6 * sizeof(int64_t) / sizeof(float);
};
static_assert(sizeof(Fingerprint) == Fingerprint::kWords * sizeof(float));

int64_t hash_counts(std::span<const int64_t> counts) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the 64-bit values
  for (int64_t c : counts) {
    for (int byte = 0; byte < 8; ++byte) {
      h ^= (static_cast<uint64_t>(c) >> (8 * byte)) & 0xffu;
      h *= 1099511628211ull;
    }
  }
  return static_cast<int64_t>(h >> 1);
}

std::string describe(const Fingerprint& f) {
  const std::string what = fmt::format("#{} {}", f.seq, op_name(f.op));
  switch (static_cast<Op>(f.op)) {
    case Op::AllReduce:
    case Op::ReduceScatter: return fmt::format("{} of {} element(s)", what, f.count);
    case Op::AllGather: return fmt::format("{} of {} element(s) in all (counts hash {})", what, f.count, f.shape % 100000);
    case Op::AllToAll: return fmt::format("{} sending {} element(s) in all", what, f.local);
    case Op::Broadcast: return fmt::format("{} of {} byte(s) from rank {}", what, f.count, f.root);
    case Op::PointToPoint: return fmt::format("{} of {} element(s) with tag {}", what, f.count, f.shape);
    case Op::Barrier: return what;
  }
  return what;
}

class CheckedCommunicator : public Communicator {
 public:
  explicit CheckedCommunicator(std::shared_ptr<Communicator> inner)
      : inner_(std::move(inner)),
        sent_(static_cast<size_t>(inner_->size()), 0),
        received_(static_cast<size_t>(inner_->size()), 0) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  std::string name() const override { return inner_->name(); }

  void all_reduce_sum(float* data, int64_t count) override {
    agree({.op = static_cast<int64_t>(Op::AllReduce), .count = count});
    inner_->all_reduce_sum(data, count);
  }
  void all_gatherv(const float* send, float* recv, std::span<const int64_t> counts) override {
    SV_CHECK_AS(CommError, static_cast<int>(counts.size()) == size(),
                "{} group: all-gather with {} counts for {} ranks", name(), counts.size(), size());
    agree({.op = static_cast<int64_t>(Op::AllGather),
           .count = std::accumulate(counts.begin(), counts.end(), int64_t{0}),
           .shape = hash_counts(counts)});
    inner_->all_gatherv(send, recv, counts);
  }
  void reduce_scatter_sum(const float* send, float* recv, int64_t count) override {
    agree({.op = static_cast<int64_t>(Op::ReduceScatter), .count = count});
    inner_->reduce_scatter_sum(send, recv, count);
  }
  void all_to_allv(const float* send, std::span<const int64_t> send_counts, float* recv,
                   std::span<const int64_t> recv_counts) override {
    SV_CHECK_AS(CommError,
                static_cast<int>(send_counts.size()) == size() && static_cast<int>(recv_counts.size()) == size(),
                "{} group: all-to-all with {}/{} counts for {} ranks", name(), send_counts.size(),
                recv_counts.size(), size());
    agree({.op = static_cast<int64_t>(Op::AllToAll),
           .local = std::accumulate(send_counts.begin(), send_counts.end(), int64_t{0})});
    agree_all_to_all_counts(send_counts, recv_counts);
    inner_->all_to_allv(send, send_counts, recv, recv_counts);
  }
  void send(const float* data, int64_t count, int peer, int tag) override {
    const Fingerprint header{.seq = sent_.at(static_cast<size_t>(peer))++,
                             .op = static_cast<int64_t>(Op::PointToPoint), .count = count, .shape = tag};
    inner_->send(reinterpret_cast<const float*>(&header), Fingerprint::kWords, peer, tag);
    inner_->send(data, count, peer, tag);
  }
  void recv(float* data, int64_t count, int peer, int tag) override {
    const Fingerprint mine{.seq = received_.at(static_cast<size_t>(peer))++,
                           .op = static_cast<int64_t>(Op::PointToPoint), .count = count, .shape = tag};
    Fingerprint theirs;
    inner_->recv(reinterpret_cast<float*>(&theirs), Fingerprint::kWords, peer, tag);
    if (!(theirs == mine)) {
      throw CommError(fmt::format(
          "{} group: point-to-point mismatch (STEPVIDEO_CHECK_COLLECTIVES): rank {} sent {}; rank {} expects {}",
          name(), peer, describe(theirs), rank(), describe(mine)));
    }
    inner_->recv(data, count, peer, tag);
  }
  // The headers go first, exchanged the same way, then the data.
  void send_recv(const float* send_buf, int64_t send_count, int to, float* recv_buf, int64_t recv_count, int from,
                 int tag) override {
    const Fingerprint header{.seq = sent_.at(static_cast<size_t>(to))++,
                             .op = static_cast<int64_t>(Op::PointToPoint), .count = send_count, .shape = tag};
    const Fingerprint mine{.seq = received_.at(static_cast<size_t>(from))++,
                           .op = static_cast<int64_t>(Op::PointToPoint), .count = recv_count, .shape = tag};
    Fingerprint theirs;
    inner_->send_recv(reinterpret_cast<const float*>(&header), Fingerprint::kWords, to,
                      reinterpret_cast<float*>(&theirs), Fingerprint::kWords, from, tag);
    if (!(theirs == mine)) {
      throw CommError(fmt::format(
          "{} group: point-to-point mismatch (STEPVIDEO_CHECK_COLLECTIVES): rank {} sent {}; rank {} expects {}",
          name(), from, describe(theirs), rank(), describe(mine)));
    }
    inner_->send_recv(send_buf, send_count, to, recv_buf, recv_count, from, tag);
  }
  void broadcast_bytes(void* data, int64_t bytes, int root) override {
    agree({.op = static_cast<int64_t>(Op::Broadcast), .count = bytes, .root = root});
    inner_->broadcast_bytes(data, bytes, root);
  }
  void barrier() override {
    agree({.op = static_cast<int64_t>(Op::Barrier)});
    inner_->barrier();
  }

 private:
  // Every rank learns every rank's fingerprint; all throw the same error.
  void agree(Fingerprint mine) {
    mine.seq = seq_++;
    const auto n = static_cast<size_t>(size());
    std::vector<Fingerprint> all(n);
    const std::vector<int64_t> counts(n, Fingerprint::kWords);
    inner_->all_gatherv(reinterpret_cast<const float*>(&mine), reinterpret_cast<float*>(all.data()), counts);
    bool same = true;
    for (const Fingerprint& f : all) same = same && f == all.front();
    if (same) return;
    std::string ranks;
    for (size_t r = 0; r < n; ++r) {
      if (n > 8 && all[r] == all.front() && r != 0) continue;  // large groups: only those that differ
      ranks += fmt::format("{}rank {}: {}", ranks.empty() ? "" : "; ", r, describe(all[r]));
    }
    throw CommError(fmt::format("{} group: collective mismatch (STEPVIDEO_CHECK_COLLECTIVES) at rank {}: {}",
                                name(), rank(), ranks));
  }

  // What rank i sends to j must be what j expects from i, for every pair.
  void agree_all_to_all_counts(std::span<const int64_t> send_counts, std::span<const int64_t> recv_counts) {
    const auto n = static_cast<size_t>(size());
    std::vector<int64_t> mine(send_counts.begin(), send_counts.end());
    mine.insert(mine.end(), recv_counts.begin(), recv_counts.end());
    std::vector<int64_t> all(n * 2 * n);
    const std::vector<int64_t> words(n, static_cast<int64_t>(2 * n * sizeof(int64_t) / sizeof(float)));
    inner_->all_gatherv(reinterpret_cast<const float*>(mine.data()), reinterpret_cast<float*>(all.data()), words);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) {
        const int64_t sends = all[i * 2 * n + j], expects = all[j * 2 * n + n + i];
        if (sends == expects) continue;
        throw CommError(fmt::format(
            "{} group: all-to-all #{} count mismatch (STEPVIDEO_CHECK_COLLECTIVES): rank {} sends {} element(s) "
            "to rank {}, which expects {} from it",
            name(), seq_ - 1, i, sends, j, expects));
      }
    }
  }

  std::shared_ptr<Communicator> inner_;
  int64_t seq_ = 0;
  std::vector<int64_t> sent_, received_;  // point-to-point messages per peer
};

}  // namespace

bool collective_checks_requested() {
  const char* value = std::getenv(kCheckCollectivesEnv);
  if (!value || !*value || std::string(value) == "0") return false;
  SV_CHECK_AS(ConfigError, std::string(value) == "1", "{}={}: expected 1 (on) or 0 (off)", kCheckCollectivesEnv,
              value);
  return true;
}

std::shared_ptr<Communicator> make_checked_communicator(std::shared_ptr<Communicator> inner) {
  return std::make_shared<CheckedCommunicator>(std::move(inner));
}

}  // namespace sv
