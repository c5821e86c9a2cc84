// The training batch plan: every batch is one shape bucket of that bucket's
// size, no sample twice in an epoch, a bucket of size 0 never trains, the
// same seed gives the same batches, and a plan where no batch can form is
// refused naming the groups.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "train/batch_plan.h"

namespace sv::train {
namespace {

std::vector<std::string> buckets() {
  std::vector<std::string> b;
  for (int i = 0; i < 9; ++i) b.push_back("clip");   // samples 0-8
  for (int i = 0; i < 12; ++i) b.push_back("still");  // 9-20
  for (int i = 0; i < 3; ++i) b.push_back("long");    // 21-23
  return b;
}

const std::map<std::string, int64_t> kSizes{{"clip", 2}, {"still", 6}, {"long", 0}};

TEST(BatchPlan, EachBucketTrainsInItsOwnBatchSize) {
  const std::vector<std::string> b = buckets();
  BatchPlan plan(b, [](const std::string& bucket) { return kSizes.at(bucket); }, 7);
  // One epoch: 4 batches of clips (one clip left over), 2 of stills; the long ones never.
  std::set<int64_t> seen;
  std::map<std::string, int> count;
  for (int64_t step = 0; plan.epoch_of(step) == 0; ++step) {
    const std::vector<int64_t> batch = plan.batch(step);
    const std::string& bucket = b[static_cast<size_t>(batch.front())];
    EXPECT_EQ(static_cast<int64_t>(batch.size()), kSizes.at(bucket)) << "step " << step;
    for (const int64_t s : batch) {
      EXPECT_EQ(b[static_cast<size_t>(s)], bucket) << "a batch mixes shapes at step " << step;
      EXPECT_TRUE(seen.insert(s).second) << "sample " << s << " twice in one epoch";
    }
    ++count[bucket];
  }
  EXPECT_EQ(count["clip"], 4);
  EXPECT_EQ(count["still"], 2);
  EXPECT_EQ(count.count("long"), 0u);

  BatchPlan again(b, [](const std::string& bucket) { return kSizes.at(bucket); }, 7);
  for (int64_t step = 0; step < 15; ++step) EXPECT_EQ(again.batch(step), plan.batch(step)) << "step " << step;
}

TEST(BatchPlan, RefusesWhenNoBatchCanForm) {
  try {
    BatchPlan plan(buckets(), [](const std::string& bucket) { return bucket == "still" ? 13 : 0; }, 1);
    FAIL() << "a plan without any batch was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("still (12 samples, batch 13)"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(BatchPlan(buckets(), 12, 1));  // the largest group holds 12
  EXPECT_THROW(BatchPlan(buckets(), 13, 1), InputError);
}

// Joint image + video training: 3 images (one bucket) and 8 videos of two shapes.
TEST(BatchPlan, ImageShareSetsTheMixAndEachKindWalksItsOwnEpochs) {
  std::vector<std::string> b;
  std::vector<bool> image;
  for (int i = 0; i < 11; ++i) {
    b.push_back(i < 3 ? "still" : (i < 7 ? "clip" : "long"));
    image.push_back(i < 3);
  }
  const auto size = [](const std::string& bucket) { return bucket == "still" ? int64_t{1} : int64_t{2}; };
  BatchPlan plan(b, size, 5, image, 0.25);
  const int64_t steps = 4000;
  int64_t image_steps = 0;
  std::vector<int64_t> image_order;
  for (int64_t step = 0; step < steps; ++step) {
    const std::vector<int64_t> batch = plan.batch(step);
    const bool is_image = plan.image_step(step);
    image_steps += is_image;
    for (const int64_t s : batch) EXPECT_EQ(image[static_cast<size_t>(s)], is_image) << "step " << step;
    EXPECT_EQ(static_cast<int64_t>(batch.size()), is_image ? 1 : 2);
    if (is_image) image_order.push_back(batch[0]);
  }
  // Binomial(4000, 0.25): sd 27 steps; the draws are fixed by the seed, the bound is 4 sd.
  EXPECT_NEAR(static_cast<double>(image_steps), 0.25 * steps, 110.0);
  // Every run of three image steps (one image epoch) shows each image once.
  for (size_t e = 0; e + 3 <= image_order.size(); e += 3) {
    const std::set<int64_t> epoch(image_order.begin() + static_cast<long>(e),
                                  image_order.begin() + static_cast<long>(e) + 3);
    EXPECT_EQ(epoch, (std::set<int64_t>{0, 1, 2})) << "image epoch " << e / 3;
  }
  // Asked out of order (a resume), a fresh plan gives the same batches.
  BatchPlan resumed(b, size, 5, image, 0.25);
  for (int64_t step : {3999, 1234, 0, 2500}) EXPECT_EQ(resumed.batch(step), plan.batch(step)) << "step " << step;

  BatchPlan only_images(b, size, 5, image, 1.0);
  for (int64_t step = 0; step < 20; ++step) EXPECT_TRUE(image[static_cast<size_t>(only_images.batch(step)[0])]);
  BatchPlan only_videos(b, size, 5, image, 0.0);
  for (int64_t step = 0; step < 20; ++step) EXPECT_FALSE(image[static_cast<size_t>(only_videos.batch(step)[0])]);
  const std::vector<bool> no_images(b.size(), false);
  try {
    BatchPlan none(b, size, 5, no_images, 0.25);
    FAIL() << "an image share without images was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("trains on images but the dataset holds none"), std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(BatchPlan(b, size, 5, no_images, 0.0));
  EXPECT_THROW(BatchPlan(b, size, 5, image, 1.5), InputError);
  EXPECT_THROW(BatchPlan(b, [](const std::string&) { return int64_t{5}; }, 5, image, 0.5), InputError);
}

}  // namespace
}  // namespace sv::train
