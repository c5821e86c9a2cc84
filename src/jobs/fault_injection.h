// Faults injected by tests (and only by tests) through the environment
// variable STEPVIDEO_INJECT_FAULTS, to prove the error policy under real MPI
// ranks: a comma-separated list of POINT:ITEM_ID[@WORLD_RANK[@STEP]].
//   tokenize, decode, write  an item-level error the replica detects outside
//                            any collective: the item fails, the replica goes on
//   collective               an exception inside a denoising step (ranks out of
//                            step): the whole job ends
//   die                      the rank exits abruptly mid-step (a dead peer)
//   hang                     the rank sleeps forever mid-step (watchdog)
//   slow                     each step sleeps 1 s (item timeout)
//   preempt                  acts as if SIGUSR1 arrived after STEP (default 0)
// Without @WORLD_RANK a fault fires on every rank.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sv::jobs {

struct Fault {
  std::string point, item;
  int rank = -1;     // -1: every rank
  int64_t step = 0;  // for step-bound points
};

class FaultInjector {
 public:
  // Reads STEPVIDEO_INJECT_FAULTS; ConfigError on a malformed value.
  FaultInjector(int world_rank);
  // The fault at `point` for `item` on this rank, if the test asked for one.
  const Fault* find(std::string_view point, std::string_view item) const;
  // Throws the item-level InputError for tokenize/decode/write faults.
  void maybe_throw(std::string_view point, std::string_view item) const;
  // Step-bound faults (collective, die, hang, slow, preempt) after `step`.
  void at_step(std::string_view item, int64_t step) const;
  bool empty() const { return faults_.empty(); }

 private:
  std::vector<Fault> faults_;
  int rank_;
};

}  // namespace sv::jobs
