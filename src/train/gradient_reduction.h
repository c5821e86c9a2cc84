// Data-parallel gradient reduction in buckets (DESIGN.md 6b). The trainer
// hands over gradient buffers as the backward finishes them (a block at a
// time, last block first); they are packed into a bucket, and a bucket that
// reaches its size is summed over the dp group on a communication thread while
// the backward goes on below. finish() sends what is left, waits, and writes
// every sum back into its buffer.
//
// A bucket is summed by a reduce-scatter followed by an all-gather: one rank
// adds up each chunk and every rank receives that same result, so the
// replicas' gradients, and therefore their weights, stay bit-identical (an
// MPI all-reduce only recommends that). Every rank must add the same buffers
// in the same order, which the shared model code guarantees.
//
// The communicator is used by the communication thread only, between the
// first add() and the end of finish(): the caller must not use it meanwhile.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "layers/gradients.h"
#include "layers/parameter.h"
#include "parallel/communicator.h"

namespace sv::train {

class BucketedGradientReduction {
 public:
  // bucket_bytes: a bucket is sent once it holds at least this much.
  BucketedGradientReduction(std::shared_ptr<Communicator> dp, int64_t bucket_bytes);
  ~BucketedGradientReduction();
  BucketedGradientReduction(const BucketedGradientReduction&) = delete;
  BucketedGradientReduction& operator=(const BucketedGradientReduction&) = delete;

  // `gradient` (f32, contiguous) holds its final value for this step.
  void add(const Tensor& gradient);
  // Sums everything added since the last finish(); rethrows a communication
  // error of the thread.
  void finish();

  struct StepCounts {
    int64_t buckets = 0;  // buckets of the last finished step
    int64_t early = 0;    // of them, sent before finish() (while the backward ran)
  };
  StepCounts last_step() const { return last_step_; }

 private:
  struct Bucket {
    std::vector<Tensor> targets;
    std::vector<float> packed;  // the targets back to back, padded to a multiple of the dp size
  };
  void send_current();
  void communicate();
  void reduce(Bucket& bucket);

  std::shared_ptr<Communicator> dp_;
  int64_t bucket_elements_;
  std::unique_ptr<Bucket> current_;
  StepCounts last_step_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Bucket*> queue_;         // waiting for the thread
  std::vector<std::unique_ptr<Bucket>> in_flight_;  // every bucket of this step, in order
  int64_t done_ = 0;                  // buckets of this step the thread has summed
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

// The DiT's gradients through a BucketedGradientReduction: each block's
// parameters as the backward finishes the block (DitTrainingOptions::
// block_gradients_done), the rest (embeddings, output layer) at the end.
class DitGradientReduction {
 public:
  DitGradientReduction(const ParameterRegistry& registry, std::shared_ptr<Communicator> group, int64_t bucket_bytes);

  // Hands over block `index`'s gradients (the backward is done with them).
  void block_done(Gradients& grads, int64_t index);
  // Hands over the rest and waits: grads then hold the sums over the group.
  void finish(Gradients& grads);
  BucketedGradientReduction::StepCounts last_step() const { return reduction_.last_step(); }

 private:
  void add(Gradients& grads, const std::vector<const Parameter*>& params);

  BucketedGradientReduction reduction_;
  std::vector<std::vector<const Parameter*>> block_params_;
  std::vector<const Parameter*> outside_blocks_;
};

}  // namespace sv::train
