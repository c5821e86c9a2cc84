// ZeRO stage 1 (`train --zero 1`, DESIGN.md 6b): AdamW whose moments are
// split over the ranks that sum the gradients (dp x sp). The gradient
// reduction leaves each rank the sum of its own chunk of every bucket
// (BucketLayout); the rank steps the weights of that chunk with
// adamw_update, and an all-gather per bucket gives every rank every updated
// weight. Each element's update is the very arithmetic AdamW does on the
// summed gradient; only the global norm is summed in another order.
//
// The weights themselves stay whole on every rank (training computes in f32,
// so they are the master weights): the saving is the moments, 8 bytes per
// parameter element divided by the group size.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parallel/communicator.h"
#include "train/adamw.h"
#include "train/dit_step.h"
#include "train/gradient_reduction.h"

namespace sv::train {

class ShardedAdamW {
 public:
  // group: the ranks the layout's buckets are split over; tp and pp: where
  // the other slices and stages of the model live (for the global norm).
  ShardedAdamW(AdamWSettings settings, BucketLayout layout, std::shared_ptr<Communicator> group,
               std::shared_ptr<Communicator> tp, std::shared_ptr<Communicator> pp);

  // The norm of the whole gradient: this rank's chunks, summed over the
  // group, then as global_grad_norm sums over tp and pp.
  double global_norm(const std::vector<std::vector<float>>& chunks) const;
  // One step: clips the chunks in place, updates this rank's elements and
  // all-gathers the weights (every rank of the group takes part).
  StepReport step(std::vector<std::vector<float>>& chunks, float lr, double grad_norm);

  int64_t steps_taken() const { return steps_; }
  // Every parameter's moments in its local (tp slice) shape, gathered to the
  // group's rank 0 (every rank of the group takes part; the others get an
  // empty map, so no rank but the writer's side holds them all); empty
  // before the first step.
  std::map<std::string, AdamWMoments, std::less<>> gather_moments() const;
  // From local moments by name (a checkpoint written in any layout); a
  // parameter without any starts from zero.
  void restore(int64_t steps_taken, const std::map<std::string, AdamWMoments, std::less<>>& moments);
  // Bytes of moments this rank holds.
  int64_t moment_bytes() const;

 private:
  // Elements of one parameter inside this rank's chunk of a bucket.
  struct Segment {
    Parameter* parameter;
    int64_t in_parameter;  // first element, in the parameter's local tensor
    int64_t in_chunk;      // where it sits in the chunk
    int64_t count;
  };
  // Every rank gets the bucket (weights after a step).
  std::vector<float> gather_bucket(size_t bucket, const std::vector<float>& chunk) const;
  // Rank 0 gets the bucket, the others nothing (moments for a checkpoint).
  std::vector<float> gather_bucket_to_root(size_t bucket, const std::vector<float>& chunk) const;

  AdamWSettings settings_;
  BucketLayout layout_;
  std::shared_ptr<Communicator> group_, tp_, pp_;
  std::vector<std::vector<Segment>> segments_;  // per bucket
  std::vector<std::vector<float>> exp_avg_, exp_avg_sq_;  // per bucket, this rank's chunk
  int64_t steps_ = 0;
};

}  // namespace sv::train
