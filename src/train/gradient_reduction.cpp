#include "train/gradient_reduction.h"

#include <algorithm>
#include <cstring>
#include <string>

#include <fmt/ranges.h>

#include "core/error.h"

namespace sv::train {

namespace {

int64_t bucket_elements(int64_t bucket_bytes) {
  return std::max<int64_t>(1, bucket_bytes / static_cast<int64_t>(sizeof(float)));
}

int64_t padded(int64_t elements, int ranks) { return (elements + ranks - 1) / ranks * ranks; }

}  // namespace

BucketLayout plan_buckets(std::span<Parameter* const> in_order, int64_t bucket_bytes, int ranks) {
  // The rule of add() and finish(): a bucket closes once it holds at least
  // bucket_elements; what is left at the end is the last bucket.
  BucketLayout layout;
  layout.ranks = ranks;
  const int64_t limit = bucket_elements(bucket_bytes);
  int64_t filled = 0;
  for (Parameter* p : in_order) {
    if (filled == 0) layout.buckets.emplace_back();
    layout.buckets.back().entries.push_back(BucketLayout::Entry{p, filled});
    filled += p->local_shape().numel();
    if (filled >= limit) {
      layout.buckets.back().padded = padded(filled, ranks);
      filled = 0;
    }
  }
  if (filled > 0) layout.buckets.back().padded = padded(filled, ranks);
  return layout;
}

BucketedGradientReduction::BucketedGradientReduction(std::shared_ptr<Communicator> dp, int64_t bucket_bytes,
                                                     Result result)
    : dp_(std::move(dp)),
      bucket_elements_(bucket_elements(bucket_bytes)),
      result_(result),
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
  current_->padded = padded(static_cast<int64_t>(current_->packed.size()), dp_->size());
  current_->packed.resize(static_cast<size_t>(current_->padded), 0.0f);
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
  const int64_t chunk = bucket.padded / dp_->size();
  bucket.own.resize(static_cast<size_t>(chunk));
  dp_->reduce_scatter_sum(bucket.packed.data(), bucket.own.data(), chunk);
  if (result_ == Result::OwnChunks) {
    std::vector<float>().swap(bucket.packed);  // a copy of the gradients no longer needed
    return;
  }
  const std::vector<int64_t> counts(static_cast<size_t>(dp_->size()), chunk);
  dp_->all_gatherv(bucket.own.data(), bucket.packed.data(), counts);
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
  own_chunks_.clear();
  bucket_sizes_.clear();
  for (const auto& bucket : in_flight_) {
    bucket_sizes_.push_back(bucket->padded);
    if (result_ == Result::OwnChunks) {
      own_chunks_.push_back(std::move(bucket->own));
      continue;
    }
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

DitGradientReduction::Groups DitGradientReduction::group(const ParameterRegistry& registry) {
  Groups g;
  for (const auto& p : registry.parameters()) {
    if (!p->local) continue;
    const int64_t block = block_of(p->name);
    if (block < 0) {
      g.outside_blocks.push_back(p.get());
      continue;
    }
    if (static_cast<size_t>(block) >= g.blocks.size()) g.blocks.resize(static_cast<size_t>(block) + 1);
    g.blocks[static_cast<size_t>(block)].push_back(p.get());
  }
  return g;
}

BucketLayout DitGradientReduction::plan(const ParameterRegistry& registry, int64_t bucket_bytes, int ranks) {
  const Groups g = group(registry);
  // The backward finishes the blocks last to first, then the rest. The rest
  // starts a bucket of its own: under pp every stage holds those parameters,
  // and identical buckets make their sums (and ZeRO-1's norm and update of
  // them) the same bits on every stage.
  std::vector<Parameter*> order;
  for (size_t b = g.blocks.size(); b-- > 0;) order.insert(order.end(), g.blocks[b].begin(), g.blocks[b].end());
  BucketLayout layout = plan_buckets(order, bucket_bytes, ranks);
  const BucketLayout rest = plan_buckets(g.outside_blocks, bucket_bytes, ranks);
  layout.buckets.insert(layout.buckets.end(), rest.buckets.begin(), rest.buckets.end());
  return layout;
}

DitGradientReduction::DitGradientReduction(const ParameterRegistry& registry, std::shared_ptr<Communicator> group,
                                           int64_t bucket_bytes, Result result)
    : reduction_(group, bucket_bytes, result),
      result_(result),
      groups_(DitGradientReduction::group(registry)),
      layout_(plan(registry, bucket_bytes, group->size())) {}

void DitGradientReduction::add(Gradients& grads, const std::vector<Parameter*>& params) {
  for (const Parameter* p : params) {
    // Under ZeRO-1 every parameter has its fixed place (a zero gradient if
    // no backward touched it), so the chunks a rank owns never move.
    if (result_ == Result::OwnChunks) {
      reduction_.add(grads.of(*p));
    } else if (const Tensor* g = grads.find(*p)) {
      reduction_.add(*g);
    }
  }
}

void DitGradientReduction::block_done(Gradients& grads, int64_t index) {
  add(grads, groups_.blocks.at(static_cast<size_t>(index)));
}

void DitGradientReduction::finish(Gradients& grads) {
  reduction_.close_bucket();  // the parameters outside the blocks start their own (see plan)
  add(grads, groups_.outside_blocks);
  reduction_.finish();
  if (result_ != Result::OwnChunks) return;
  const std::vector<int64_t>& sizes = reduction_.bucket_sizes();
  std::vector<int64_t> planned;
  for (const BucketLayout::Bucket& b : layout_.buckets) planned.push_back(b.padded);
  SV_CHECK(sizes == planned, "ZeRO-1: the gradient buckets ({}) differ from the planned ones ({})",
           fmt::join(sizes, ", "), fmt::join(planned, ", "));
}

}  // namespace sv::train
