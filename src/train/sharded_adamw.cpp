#include "train/sharded_adamw.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace sv::train {

ShardedAdamW::ShardedAdamW(AdamWSettings settings, BucketLayout layout, std::shared_ptr<Communicator> group,
                           std::shared_ptr<Communicator> tp, std::shared_ptr<Communicator> pp)
    : settings_(settings), layout_(std::move(layout)), group_(std::move(group)), tp_(std::move(tp)), pp_(std::move(pp)) {
  SV_CHECK(layout_.ranks == group_->size(), "ZeRO-1: a layout for {} ranks used by a group of {}", layout_.ranks,
           group_->size());
  for (size_t b = 0; b < layout_.buckets.size(); ++b) {
    const int64_t chunk = layout_.chunk(b);
    const int64_t lo = group_->rank() * chunk, hi = lo + chunk;
    std::vector<Segment> mine;
    for (const BucketLayout::Entry& e : layout_.buckets[b].entries) {
      const int64_t first = std::max(lo, e.offset);
      const int64_t last = std::min(hi, e.offset + e.parameter->local_shape().numel());
      if (first < last) mine.push_back(Segment{e.parameter, first - e.offset, first - lo, last - first});
    }
    segments_.push_back(std::move(mine));
    exp_avg_.emplace_back(static_cast<size_t>(chunk), 0.0f);
    exp_avg_sq_.emplace_back(static_cast<size_t>(chunk), 0.0f);
  }
}

double ShardedAdamW::global_norm(const std::vector<std::vector<float>>& chunks) const {
  SV_CHECK(chunks.size() == segments_.size(), "ZeRO-1: {} gradient chunks for {} buckets", chunks.size(),
           segments_.size());
  GradSquares squares;
  for (size_t b = 0; b < segments_.size(); ++b) {
    for (const Segment& s : segments_[b]) {
      double sum_sq = 0.0;
      const float* g = chunks[b].data() + s.in_chunk;
      for (int64_t i = 0; i < s.count; ++i) sum_sq += static_cast<double>(g[i]) * g[i];
      squares.add(*s.parameter, sum_sq);
    }
  }
  squares.sum_across(*group_);
  return global_grad_norm(squares, *tp_, *pp_);
}

std::vector<float> ShardedAdamW::gather_bucket(size_t bucket, const std::vector<float>& chunk) const {
  std::vector<float> all(static_cast<size_t>(layout_.buckets[bucket].padded));
  const std::vector<int64_t> counts(static_cast<size_t>(group_->size()), layout_.chunk(bucket));
  group_->all_gatherv(chunk.data(), all.data(), counts);
  return all;
}

std::vector<float> ShardedAdamW::gather_bucket_to_root(size_t bucket, const std::vector<float>& chunk) const {
  constexpr int kTag = 73;
  const int64_t n = layout_.chunk(bucket);
  if (group_->rank() != 0) {
    group_->send(chunk.data(), n, 0, kTag);
    return {};
  }
  std::vector<float> all(static_cast<size_t>(layout_.buckets[bucket].padded));
  std::copy(chunk.begin(), chunk.end(), all.begin());
  for (int r = 1; r < group_->size(); ++r) group_->recv(all.data() + r * n, n, r, kTag);
  return all;
}

StepReport ShardedAdamW::step(std::vector<std::vector<float>>& chunks, float lr, double grad_norm) {
  SV_CHECK(chunks.size() == segments_.size(), "ZeRO-1: {} gradient chunks for {} buckets", chunks.size(),
           segments_.size());
  for (size_t b = 0; b < chunks.size(); ++b) {
    SV_CHECK(static_cast<int64_t>(chunks[b].size()) == layout_.chunk(b), "ZeRO-1: bucket {} chunk of {} elements, not {}",
             b, chunks[b].size(), layout_.chunk(b));
  }
  const AdamWStepScalars scalars = adamw_step_scalars(settings_, steps_ + 1, lr, grad_norm);
  ++steps_;
  for (size_t b = 0; b < segments_.size(); ++b) {
    std::vector<float> weights(chunks[b].size(), 0.0f);
    for (const Segment& s : segments_[b]) {
      std::memcpy(weights.data() + s.in_chunk, s.parameter->value.data<float>() + s.in_parameter,
                  static_cast<size_t>(s.count) * sizeof(float));
      adamw_update(weights.data() + s.in_chunk, chunks[b].data() + s.in_chunk, exp_avg_[b].data() + s.in_chunk,
                   exp_avg_sq_[b].data() + s.in_chunk, s.count, adamw_decays(*s.parameter), scalars);
    }
    const std::vector<float> all = gather_bucket(b, weights);
    for (const BucketLayout::Entry& e : layout_.buckets[b].entries) {
      Tensor& w = e.parameter->value;
      std::memcpy(w.data<float>(), all.data() + e.offset, static_cast<size_t>(w.numel()) * sizeof(float));
    }
  }
  return StepReport{grad_norm, scalars.clipped};
}

std::map<std::string, AdamWMoments, std::less<>> ShardedAdamW::gather_moments() const {
  std::map<std::string, AdamWMoments, std::less<>> moments;
  if (steps_ == 0) return moments;
  for (size_t b = 0; b < segments_.size(); ++b) {
    const std::vector<float> m = gather_bucket_to_root(b, exp_avg_[b]), v = gather_bucket_to_root(b, exp_avg_sq_[b]);
    if (group_->rank() != 0) continue;
    for (const BucketLayout::Entry& e : layout_.buckets[b].entries) {
      const Shape shape = e.parameter->local_shape();
      const auto bytes = static_cast<size_t>(shape.numel()) * sizeof(float);
      AdamWMoments mv{Tensor::empty(shape, DType::F32), Tensor::empty(shape, DType::F32)};
      std::memcpy(mv.exp_avg.data<float>(), m.data() + e.offset, bytes);
      std::memcpy(mv.exp_avg_sq.data<float>(), v.data() + e.offset, bytes);
      moments.emplace(e.parameter->name, std::move(mv));
    }
  }
  return moments;
}

void ShardedAdamW::restore(int64_t steps_taken, const std::map<std::string, AdamWMoments, std::less<>>& moments) {
  SV_CHECK(steps_taken >= 0, "ZeRO-1: {} steps taken", steps_taken);
  steps_ = steps_taken;
  for (size_t b = 0; b < segments_.size(); ++b) {
    std::fill(exp_avg_[b].begin(), exp_avg_[b].end(), 0.0f);
    std::fill(exp_avg_sq_[b].begin(), exp_avg_sq_[b].end(), 0.0f);
    for (const Segment& s : segments_[b]) {
      const auto it = moments.find(s.parameter->name);
      if (it == moments.end()) continue;
      const AdamWMoments& mv = it->second;
      SV_CHECK(mv.exp_avg.numel() == s.parameter->local_shape().numel() &&
                   mv.exp_avg_sq.numel() == s.parameter->local_shape().numel(),
               "ZeRO-1: moments {} for parameter {} {}", mv.exp_avg.describe(), s.parameter->name,
               s.parameter->local_shape().str());
      const auto bytes = static_cast<size_t>(s.count) * sizeof(float);
      std::memcpy(exp_avg_[b].data() + s.in_chunk, mv.exp_avg.data<float>() + s.in_parameter, bytes);
      std::memcpy(exp_avg_sq_[b].data() + s.in_chunk, mv.exp_avg_sq.data<float>() + s.in_parameter, bytes);
    }
  }
}

int64_t ShardedAdamW::moment_bytes() const {
  int64_t elements = 0;
  for (const auto& m : exp_avg_) elements += 2 * static_cast<int64_t>(m.size());
  return elements * static_cast<int64_t>(sizeof(float));
}

}  // namespace sv::train
