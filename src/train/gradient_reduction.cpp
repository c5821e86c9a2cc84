#include "train/gradient_reduction.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"

namespace sv::train {

BucketedGradientReduction::BucketedGradientReduction(std::shared_ptr<Communicator> dp, int64_t bucket_bytes)
    : dp_(std::move(dp)),
      bucket_elements_(std::max<int64_t>(1, bucket_bytes / static_cast<int64_t>(sizeof(float)))),
      thread_([this] { communicate(); }) {}

BucketedGradientReduction::~BucketedGradientReduction() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void BucketedGradientReduction::add(const Tensor& gradient) {
  SV_CHECK(gradient.dtype() == DType::F32 && gradient.is_contiguous(), "gradient reduction: {} must be f32, contiguous",
           gradient.describe());
  if (!current_) current_ = std::make_unique<Bucket>();
  const float* data = gradient.data<float>();
  current_->packed.insert(current_->packed.end(), data, data + gradient.numel());
  current_->targets.push_back(gradient);
  if (static_cast<int64_t>(current_->packed.size()) >= bucket_elements_) send_current();
}

void BucketedGradientReduction::send_current() {
  if (!current_) return;
  // reduce_scatter_sum gives every rank an equal chunk.
  const auto ranks = static_cast<size_t>(dp_->size());
  current_->packed.resize((current_->packed.size() + ranks - 1) / ranks * ranks, 0.0f);
  {
    const std::lock_guard lock(mutex_);
    queue_.push_back(current_.get());
    in_flight_.push_back(std::move(current_));
  }
  wake_.notify_all();
}

void BucketedGradientReduction::communicate() {
  for (;;) {
    Bucket* bucket = nullptr;
    bool skip = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      bucket = queue_.front();
      queue_.pop_front();
      skip = error_ != nullptr;  // after a failure the group is no longer in step
    }
    std::exception_ptr error;
    if (!skip) {
      try {
        reduce(*bucket);
      } catch (...) {
        error = std::current_exception();
      }
    }
    {
      const std::lock_guard lock(mutex_);
      if (error && !error_) error_ = error;
      ++done_;
    }
    wake_.notify_all();
  }
}

void BucketedGradientReduction::reduce(Bucket& bucket) {
  const int64_t chunk = static_cast<int64_t>(bucket.packed.size()) / dp_->size();
  std::vector<float> mine(static_cast<size_t>(chunk));
  dp_->reduce_scatter_sum(bucket.packed.data(), mine.data(), chunk);
  const std::vector<int64_t> counts(static_cast<size_t>(dp_->size()), chunk);
  dp_->all_gatherv(mine.data(), bucket.packed.data(), counts);
}

void BucketedGradientReduction::finish() {
  std::unique_lock lock(mutex_);
  const auto early = static_cast<int64_t>(in_flight_.size());
  lock.unlock();
  send_current();
  lock.lock();
  wake_.wait(lock, [this] { return done_ == static_cast<int64_t>(in_flight_.size()); });
  if (error_) {
    const std::exception_ptr error = error_;
    error_ = nullptr;
    in_flight_.clear();
    done_ = 0;
    std::rethrow_exception(error);
  }
  for (const auto& bucket : in_flight_) {
    const float* from = bucket->packed.data();
    for (Tensor& target : bucket->targets) {
      std::memcpy(target.data<float>(), from, static_cast<size_t>(target.numel()) * sizeof(float));
      from += target.numel();
    }
  }
  last_step_ = StepCounts{static_cast<int64_t>(in_flight_.size()), early};
  in_flight_.clear();
  done_ = 0;
}

namespace {

// The index of the transformer block a parameter belongs to, or -1.
int64_t block_of(const std::string& name) {
  constexpr std::string_view kPrefix = "transformer_blocks.";
  if (!name.starts_with(kPrefix)) return -1;
  return std::stoll(name.substr(kPrefix.size()));
}

}  // namespace

DitGradientReduction::DitGradientReduction(const ParameterRegistry& registry, std::shared_ptr<Communicator> group,
                                           int64_t bucket_bytes)
    : reduction_(std::move(group), bucket_bytes) {
  for (const auto& p : registry.parameters()) {
    if (!p->local) continue;
    const int64_t block = block_of(p->name);
    if (block < 0) {
      outside_blocks_.push_back(p.get());
      continue;
    }
    if (static_cast<size_t>(block) >= block_params_.size()) block_params_.resize(static_cast<size_t>(block) + 1);
    block_params_[static_cast<size_t>(block)].push_back(p.get());
  }
}

void DitGradientReduction::add(Gradients& grads, const std::vector<const Parameter*>& params) {
  for (const Parameter* p : params) {
    if (const Tensor* g = grads.find(*p)) reduction_.add(*g);
  }
}

void DitGradientReduction::block_done(Gradients& grads, int64_t index) {
  add(grads, block_params_.at(static_cast<size_t>(index)));
}

void DitGradientReduction::finish(Gradients& grads) {
  add(grads, outside_blocks_);
  reduction_.finish();
}

}  // namespace sv::train
