// What the benchmarks report of their timed repetitions and of their ranks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "parallel/communicator.h"

namespace sv::cli {

inline double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Wraps group communicators in place in CountingCommunicators and sums the
// bytes this rank has sent through them.
class SentBytes {
 public:
  explicit SentBytes(std::initializer_list<std::shared_ptr<Communicator>*> groups) {
    for (std::shared_ptr<Communicator>* g : groups) {
      counters_.push_back(std::make_shared<CountingCommunicator>(*g));
      *g = counters_.back();
    }
  }
  int64_t total() const {
    int64_t sum = 0;
    for (const auto& c : counters_) sum += c->bytes_sent();
    return sum;
  }

 private:
  std::vector<std::shared_ptr<CountingCommunicator>> counters_;
};

// The largest of every rank's value (the slowest rank sets the pace).
float max_over(Communicator& world, float mine);
// The same for a count, exactly (two 24-bit halves, each exact in a float).
int64_t max_over(Communicator& world, int64_t mine);

}  // namespace sv::cli
