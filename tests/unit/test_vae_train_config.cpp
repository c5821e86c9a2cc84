// VaeTrainConfig's per-parameter learning rate (--lr-fan-in) and its record.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "train/vae_train_config.h"

namespace sv {
namespace {

TEST(VaeTrainConfig, LrFanInScalesWideInputWeightsOnly) {
  train::VaeTrainConfig c;
  EXPECT_EQ(c.lr_scale(Shape{512, 512, 3, 3, 3}), 1.0) << "off by default";
  c.lr_fan_in = 1728;
  EXPECT_DOUBLE_EQ(c.lr_scale(Shape{512, 512, 3, 3, 3}), 1728.0 / 13824.0);  // 1/8
  EXPECT_EQ(c.lr_scale(Shape{64, 64, 3, 3, 3}), 1.0);                       // 1728 inputs: at lr
  EXPECT_EQ(c.lr_scale(Shape{16, 3, 3, 3, 3}), 1.0);
  EXPECT_EQ(c.lr_scale(Shape{512}), 1.0) << "biases and norms learn at lr";
}

TEST(VaeTrainConfig, LrFanInIsRecordedAndChecked) {
  train::VaeTrainConfig c;
  c.lr_fan_in = 1728;
  const train::VaeTrainConfig back = train::VaeTrainConfig::from_json(c.to_json(), "config.json");
  EXPECT_EQ(back.lr_fan_in, 1728);
  EXPECT_TRUE(back.computation_differences(c).empty());
  train::VaeTrainConfig other = c;
  other.lr_fan_in = 0;
  ASSERT_EQ(other.computation_differences(c).size(), 1u);
  EXPECT_NE(other.computation_differences(c)[0].find("lr-fan-in"), std::string::npos);
  nlohmann::json old = c.to_json();
  old.erase("lr-fan-in");  // a run from before the option: off
  EXPECT_EQ(train::VaeTrainConfig::from_json(old, "config.json").lr_fan_in, 0);
  c.lr_fan_in = -1;
  EXPECT_THROW(c.validate(), InputError);
}

}  // namespace
}  // namespace sv
