// --layout parsing, the dp check shared by generate, run and train, and the
// rank <-> coordinates mapping (DESIGN.md section 5).
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "parallel/layout.h"

namespace sv {
namespace {

std::string config_error(const std::string& text, int world = 8) {
  try {
    check_data_parallel(Layout::parse(text), world);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Layout, ParsesKeysInAnyOrderWithDefaults) {
  const Layout l = Layout::parse("sp=2,tp=4");
  EXPECT_EQ(l.tp, 4);
  EXPECT_EQ(l.sp, 2);
  EXPECT_EQ(l.pp, 1);
  EXPECT_EQ(l.cfg, 1);
  EXPECT_EQ(l.dp, 0);  // not given: what the world leaves
  EXPECT_EQ(Layout::parse("").model_parallel_size(), 1);
  EXPECT_EQ(Layout::parse("tp=2,dp=3").dp, 3);
}

TEST(Layout, RefusesMalformedItems) {
  EXPECT_NE(config_error("tp"), "");
  EXPECT_NE(config_error("tp=0"), "");
  EXPECT_NE(config_error("tp=2,tp=2").find("given twice"), std::string::npos);
  EXPECT_NE(config_error("xp=2").find("keys: tp, sp, pp, cfg, dp"), std::string::npos);
  EXPECT_NE(config_error("dp=x"), "");
}

TEST(Layout, AGivenDpMustBeWhatTheWorldLeaves) {
  EXPECT_EQ(config_error("tp=2,dp=4", 8), "");
  EXPECT_EQ(config_error("tp=2", 8), "");
  const std::string wrong = config_error("tp=2,dp=2", 8);
  EXPECT_NE(wrong.find("dp must be world / (tp*sp*pp*cfg) = 8 / 2 ranks = 4"), std::string::npos) << wrong;
  const std::string uneven = config_error("tp=3,dp=2", 8);
  EXPECT_NE(uneven.find("which does not divide"), std::string::npos) << uneven;
}

TEST(Layout, RankCoordinatesRoundTripWithTpInnermost) {
  const Layout l = Layout::parse("tp=2,sp=2,cfg=2");
  const int world = 16;
  EXPECT_EQ(data_parallel_size(l, world), 2);
  for (int r = 0; r < world; ++r) EXPECT_EQ(rank_of(l, world, rank_coords(l, world, r)), r);
  const RankCoords c = rank_coords(l, world, 1);
  EXPECT_EQ(c.tp, 1);
  EXPECT_EQ(c.sp, 0);
  EXPECT_EQ(rank_coords(l, world, 8).dp, 1);
}

}  // namespace
}  // namespace sv
