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

}  // namespace
}  // namespace sv::train
