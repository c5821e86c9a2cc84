#include "train/batch_plan.h"

#include <map>

#include <fmt/format.h>

#include "core/error.h"
#include "core/random.h"

namespace sv::train {

namespace {

// Separate the kinds of draw of one (seed, counter).
constexpr uint32_t kOrderDraw = 0x6f726472;  // "ordr"
constexpr uint32_t kNoiseDraw = 0x6e6f6973;  // "nois"
constexpr uint32_t kDropDraw = 0x64726f70;   // "drop"
constexpr uint32_t kMixDraw = 0x6d697864;    // "mixd"
constexpr uint64_t kImageSeed = 0x696d616765ULL;  // the image plan's order differs from the video plan's

std::array<uint32_t, 4> draw(uint64_t seed, uint64_t a, uint64_t b, uint32_t kind) {
  SV_CHECK(a <= UINT32_MAX && b <= UINT32_MAX, "training draw counter ({}, {}) outside [0, 2^32)", a, b);
  return philox4x32_10({static_cast<uint32_t>(a), static_cast<uint32_t>(b), kind, 0},
                       {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
}

}  // namespace

namespace {

int64_t positive_batch(int64_t batch_size) {
  SV_CHECK_AS(InputError, batch_size >= 1, "batch size must be at least 1, got {}", batch_size);
  return batch_size;
}

}  // namespace

BatchPlan::BatchPlan(std::vector<std::string> buckets, int64_t batch_size, uint64_t seed)
    : BatchPlan(std::move(buckets), [size = positive_batch(batch_size)](const std::string&) { return size; }, seed) {}

BatchPlan::BatchPlan(std::vector<std::string> buckets,
                     const std::function<int64_t(const std::string& bucket)>& batch_size, uint64_t seed)
    : seed_(seed) {
  std::map<std::string, int64_t> number, count;
  for (const std::string& b : buckets) {
    const auto [it, fresh] = number.try_emplace(b, static_cast<int64_t>(number.size()));
    if (fresh) bucket_batch_.push_back(batch_size(b));
    bucket_of_.push_back(it->second);
    ++count[b];
  }
  std::string groups;
  for (const auto& [name, n] : count) {
    const int64_t size = bucket_batch_[static_cast<size_t>(number[name])];
    if (size >= 1 && n >= size) return;
    groups += fmt::format("{}{} ({} samples, batch {})", groups.empty() ? "" : "; ", name, n, size);
  }
  throw InputError(fmt::format(
      "no batch can form: samples are grouped by shape and no group holds a whole batch: {}; lower --batch-size "
      "(or raise --tokens-per-batch), or add samples of one shape",
      groups));
}

struct BatchPlan::Mix {
  double share = 0.0;
  std::vector<int64_t> images, videos;  // sample indices of each kind
  std::unique_ptr<BatchPlan> image_plan, video_plan;
  int64_t counted = 0, images_before = 0;  // image steps among steps [0, counted)
};

BatchPlan::BatchPlan(BatchPlan&&) noexcept = default;
BatchPlan& BatchPlan::operator=(BatchPlan&&) noexcept = default;
BatchPlan::~BatchPlan() = default;

BatchPlan::BatchPlan(std::vector<std::string> buckets,
                     const std::function<int64_t(const std::string& bucket)>& batch_size, uint64_t seed,
                     const std::vector<bool>& image, double image_share)
    : seed_(seed), mix_(std::make_unique<Mix>()) {
  SV_CHECK(image.size() == buckets.size(), "batch plan: {} image flags for {} samples", image.size(), buckets.size());
  SV_CHECK_AS(InputError, image_share >= 0.0 && image_share <= 1.0, "--image-share must be in [0, 1], got {}",
              image_share);
  mix_->share = image_share;
  std::vector<std::string> image_buckets, video_buckets;
  for (size_t i = 0; i < buckets.size(); ++i) {
    (image[i] ? mix_->images : mix_->videos).push_back(static_cast<int64_t>(i));
    (image[i] ? image_buckets : video_buckets).push_back(buckets[i]);
  }
  auto plan_of = [&](std::vector<std::string> kind_buckets, uint64_t kind_seed, const char* kind) {
    SV_CHECK_AS(InputError, !kind_buckets.empty(),
                "--image-share {} trains on {} but the dataset holds none (images are 1-frame samples)", image_share,
                kind);
    try {
      return std::make_unique<BatchPlan>(std::move(kind_buckets), batch_size, kind_seed);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: {}", kind, e.what()));
    }
  };
  if (image_share > 0.0) mix_->image_plan = plan_of(std::move(image_buckets), seed ^ kImageSeed, "images");
  if (image_share < 1.0) mix_->video_plan = plan_of(std::move(video_buckets), seed, "videos");
}

bool BatchPlan::image_step(int64_t step) const {
  if (!mix_) return false;
  const auto bits = draw(seed_, static_cast<uint64_t>(step), 0, kMixDraw);
  return (bits[0] + 0.5) / 4294967296.0 < mix_->share;
}

std::pair<BatchPlan*, int64_t> BatchPlan::mixed(int64_t step) {
  SV_CHECK(step >= 0, "batch plan: step {}", step);
  Mix& m = *mix_;
  if (step < m.counted) m.counted = m.images_before = 0;
  for (; m.counted < step; ++m.counted) m.images_before += image_step(m.counted) ? 1 : 0;
  return image_step(step) ? std::pair{m.image_plan.get(), m.images_before}
                          : std::pair{m.video_plan.get(), step - m.images_before};
}

std::vector<std::vector<int64_t>> BatchPlan::epoch_batches(int64_t epoch) const {
  const auto n = static_cast<int64_t>(bucket_of_.size());
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  // Fisher-Yates with a counter-based draw per position.
  for (int64_t i = n - 1; i > 0; --i) {
    const auto bits = draw(seed_, static_cast<uint64_t>(epoch), static_cast<uint64_t>(i), kOrderDraw);
    const uint64_t r = (static_cast<uint64_t>(bits[0]) << 32) | bits[1];
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(r % static_cast<uint64_t>(i + 1))]);
  }
  std::map<int64_t, std::vector<int64_t>> queues;
  std::vector<std::vector<int64_t>> batches;
  for (const int64_t s : order) {
    const int64_t bucket = bucket_of_[static_cast<size_t>(s)];
    const int64_t size = bucket_batch_[static_cast<size_t>(bucket)];
    if (size < 1) continue;  // this shape is too long for any batch
    std::vector<int64_t>& q = queues[bucket];
    q.push_back(s);
    if (static_cast<int64_t>(q.size()) == size) {
      batches.push_back(std::move(q));
      q.clear();
    }
  }
  return batches;
}

void BatchPlan::seek(int64_t step) {
  SV_CHECK(step >= 0, "batch plan: step {}", step);
  if (epoch_ < 0 || step < epoch_first_step_) {
    epoch_ = 0;
    epoch_first_step_ = 0;
    batches_ = epoch_batches(0);
  }
  while (step >= epoch_first_step_ + static_cast<int64_t>(batches_.size())) {
    epoch_first_step_ += static_cast<int64_t>(batches_.size());
    batches_ = epoch_batches(++epoch_);
  }
}

std::vector<int64_t> BatchPlan::batch(int64_t step) {
  if (mix_) {
    const auto [plan, index] = mixed(step);
    const std::vector<int64_t>& kind = plan == mix_->image_plan.get() ? mix_->images : mix_->videos;
    std::vector<int64_t> samples = plan->batch(index);
    for (int64_t& s : samples) s = kind[static_cast<size_t>(s)];
    return samples;
  }
  seek(step);
  return batches_[static_cast<size_t>(step - epoch_first_step_)];
}

int64_t BatchPlan::epoch_of(int64_t step) {
  if (mix_) {
    const auto [plan, index] = mixed(step);
    return plan->epoch_of(index);
  }
  seek(step);
  return epoch_;
}

Tensor training_noise(const Shape& shape, uint64_t seed, int64_t step, int64_t position) {
  const auto bits = draw(seed, static_cast<uint64_t>(position), static_cast<uint64_t>(step), kNoiseDraw);
  const uint64_t noise_seed = (static_cast<uint64_t>(bits[0]) << 32) | bits[1];
  return gaussian_noise(shape, noise_seed);
}

bool drop_text(uint64_t seed, int64_t step, int64_t position, double probability) {
  if (probability <= 0.0) return false;
  const auto bits = draw(seed, static_cast<uint64_t>(position), static_cast<uint64_t>(step), kDropDraw);
  return (bits[0] + 0.5) / 4294967296.0 < probability;
}

}  // namespace sv::train
