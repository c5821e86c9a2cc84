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
// For ZeRO-1 (Result::OwnChunks) the all-gather is left out: each rank keeps
// the sum of its own chunk of every bucket for ShardedAdamW, which updates
// the weights of that chunk and all-gathers weights instead.
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
#include <span>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "layers/gradients.h"
#include "layers/parameter.h"
#include "parallel/communicator.h"

namespace sv::train {

// Where each parameter's gradient lands in the buckets, planned ahead with
// the reduction's own rule (ZeRO-1 must know which elements a rank owns
// before the first step). Rank r owns elements [r * chunk, (r + 1) * chunk)
// of every bucket.
struct BucketLayout {
  struct Entry {
    Parameter* parameter;
    int64_t offset;  // of its first element in the bucket
  };
  struct Bucket {
    std::vector<Entry> entries;
    int64_t padded = 0;  // elements, a multiple of ranks
  };
  std::vector<Bucket> buckets;
  int ranks = 1;
  int64_t chunk(size_t bucket) const { return buckets[bucket].padded / ranks; }
};
// Parameters (local tensors) in the order they are added to the reduction.
BucketLayout plan_buckets(std::span<Parameter* const> in_order, int64_t bucket_bytes, int ranks);

class BucketedGradientReduction {
 public:
  enum class Result {
    Sums,       // finish() writes the sums back into the added buffers
    OwnChunks,  // finish() leaves this rank's chunk of each bucket's sum in own_chunks()
  };
  // bucket_bytes: a bucket is sent once it holds at least this much.
  BucketedGradientReduction(std::shared_ptr<Communicator> dp, int64_t bucket_bytes, Result result = Result::Sums);
  ~BucketedGradientReduction();
  BucketedGradientReduction(const BucketedGradientReduction&) = delete;
  BucketedGradientReduction& operator=(const BucketedGradientReduction&) = delete;

  // `gradient` (f32, contiguous) holds its final value for this step.
  void add(const Tensor& gradient);
  // Sends the bucket being filled now, whatever its size: the next add()
  // starts a new one.
  void close_bucket() { send_current(); }
  // Sums everything added since the last finish(); rethrows a communication
  // error of the thread.
  void finish();

  struct StepCounts {
    int64_t buckets = 0;  // buckets of the last finished step
    int64_t early = 0;    // of them, sent before finish() (while the backward ran)
  };
  StepCounts last_step() const { return last_step_; }
  // Result::OwnChunks: per bucket of the last finished step, this rank's
  // chunk of the sum (ShardedAdamW clips them in place).
  std::vector<std::vector<float>>& own_chunks() { return own_chunks_; }
  // Elements (padded) of each bucket of the last finished step.
  const std::vector<int64_t>& bucket_sizes() const { return bucket_sizes_; }

 private:
  struct Bucket {
    std::vector<Tensor> targets;
    std::vector<float> packed;  // the targets back to back, padded to a multiple of the dp size
    int64_t padded = 0;         // packed's size (OwnChunks frees packed once it is sent)
    std::vector<float> own;     // this rank's chunk of the sum
  };
  void send_current();
  void communicate();
  void reduce(Bucket& bucket);

  std::shared_ptr<Communicator> dp_;
  int64_t bucket_elements_;
  Result result_;
  std::vector<std::vector<float>> own_chunks_;
  std::vector<int64_t> bucket_sizes_;
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
  using Result = BucketedGradientReduction::Result;
  DitGradientReduction(const ParameterRegistry& registry, std::shared_ptr<Communicator> group, int64_t bucket_bytes,
                       Result result = Result::Sums);

  // Hands over block `index`'s gradients (the backward is done with them).
  void block_done(Gradients& grads, int64_t index);
  // Hands over the rest and waits: grads then hold the sums over the group.
  void finish(Gradients& grads);
  BucketedGradientReduction::StepCounts last_step() const { return reduction_.last_step(); }
  // The buckets as finish() makes them (Result::OwnChunks checks each step
  // against it), for ShardedAdamW.
  static BucketLayout plan(const ParameterRegistry& registry, int64_t bucket_bytes, int ranks);
  const BucketLayout& layout() const { return layout_; }
  // Result::OwnChunks: this rank's chunk of each bucket's sum.
  std::vector<std::vector<float>>& own_chunks() { return reduction_.own_chunks(); }

 private:
  void add(Gradients& grads, const std::vector<Parameter*>& params);

  struct Groups {
    std::vector<std::vector<Parameter*>> blocks;  // by block index
    std::vector<Parameter*> outside_blocks;
  };
  static Groups group(const ParameterRegistry& registry);

  BucketedGradientReduction reduction_;
  Result result_;
  Groups groups_;
  BucketLayout layout_;
};

}  // namespace sv::train
