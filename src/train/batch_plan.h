// Which samples form each optimizer step's global batch, and the other random
// draws of a step, as pure functions of (seed, step, position in the global
// batch): a resumed run, or one on another layout, draws the same ones
// (DESIGN.md 6b).
//
// Per epoch, a permutation of the samples keyed by (seed, epoch); walking it,
// each sample joins the queue of its bucket (samples of one shape), and a
// queue that reaches the batch size is the next batch. What is left in the
// queues at the end of an epoch is dropped, so every batch is one shape.
// A bucket may have its own batch size (`--tokens-per-batch`: fewer long
// samples, more short ones); a bucket of size 0 never forms a batch.
//
// Joint image + video training (`--image-share s`): each step trains on an
// image batch with probability s (a counter-based draw per step) and on a
// video batch otherwise; images and videos walk their own epochs, so the mix
// is s whatever the data's proportions of images and videos.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sv::train {

class BatchPlan {
 public:
  // buckets[i]: the bucket of sample i. InputError when no bucket holds
  // batch_size samples (no batch could ever form).
  BatchPlan(std::vector<std::string> buckets, int64_t batch_size, uint64_t seed);
  // The same with each bucket's batch size.
  BatchPlan(std::vector<std::string> buckets, const std::function<int64_t(const std::string& bucket)>& batch_size,
            uint64_t seed);
  // With the image share: image[i] says whether sample i is an image (one
  // latent frame). InputError when a kind the share draws has no batch.
  BatchPlan(std::vector<std::string> buckets, const std::function<int64_t(const std::string& bucket)>& batch_size,
            uint64_t seed, const std::vector<bool>& image, double image_share);
  BatchPlan(BatchPlan&&) noexcept;
  BatchPlan& operator=(BatchPlan&&) noexcept;
  ~BatchPlan();

  // The sample indices of step `step`'s global batch. Cheapest when steps
  // are asked in increasing order (it keeps the current epoch).
  std::vector<int64_t> batch(int64_t step);
  // The epoch that step `step` draws from (for logs and checkpoints); under
  // an image share, the epoch of the kind it draws.
  int64_t epoch_of(int64_t step);
  // Under an image share: whether step `step` trains on images.
  bool image_step(int64_t step) const;

 private:
  struct Mix;
  // The kind's plan and the step's index in it (the steps before it of its kind).
  std::pair<BatchPlan*, int64_t> mixed(int64_t step);

  std::vector<std::vector<int64_t>> epoch_batches(int64_t epoch) const;
  void seek(int64_t step);

  std::vector<int64_t> bucket_of_;     // bucket number per sample
  std::vector<int64_t> bucket_batch_;  // batch size per bucket number
  uint64_t seed_;
  int64_t epoch_ = -1, epoch_first_step_ = 0;
  std::vector<std::vector<int64_t>> batches_;  // of epoch_
  std::unique_ptr<Mix> mix_;
};

// The noise of the sample at `position` of step `step`'s global batch.
Tensor training_noise(const Shape& shape, uint64_t seed, int64_t step, int64_t position);
// Whether that sample's caption is replaced by the empty one (probability p).
bool drop_text(uint64_t seed, int64_t step, int64_t position, double probability);

}  // namespace sv::train
