// The Video-DPO loss of fixtures/TRAIN.md from per-pair errors: its value,
// its derivatives against float64 central differences, and finite values for
// margins far beyond exp's range (the whole step is checked against the
// reference by `fixture.dit_dpo_tiny`).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "train/dpo.h"

namespace sv::train {
namespace {

TEST(DpoLoss, ValueIsTheMeanNegativeLogSigmoidOfTheMargins) {
  const std::vector<double> mw{3.8, 3.6}, ml{4.1, 4.2}, rw{3.7, 3.7}, rl{4.2, 4.1};
  const DpoLoss d = dpo_loss(mw, ml, rw, rl, 50.0);
  double expected = 0.0;
  for (size_t i = 0; i < 2; ++i) {
    const double inside = -25.0 * ((mw[i] - ml[i]) - (rw[i] - rl[i]));
    EXPECT_NEAR(d.inside[i], inside, 1e-12);
    expected += std::log1p(std::exp(-inside)) / 2.0;
  }
  EXPECT_NEAR(d.loss, expected, 1e-12);
  EXPECT_DOUBLE_EQ(d.implicit_accuracy, 0.5);  // pair 0's margin is -5, pair 1's +5
}

TEST(DpoLoss, DerivativesMatchCentralDifferences) {
  std::vector<double> mw{3.81, 3.67, 2.5}, ml{4.11, 4.18, 2.4};
  const std::vector<double> rw{3.87, 3.67, 2.45}, rl{4.17, 4.17, 2.5};
  const double beta = 50.0, h = 1e-6;
  const DpoLoss d = dpo_loss(mw, ml, rw, rl, beta);
  for (size_t i = 0; i < mw.size(); ++i) {
    for (auto* v : {&mw, &ml}) {
      const double keep = (*v)[i];
      (*v)[i] = keep + h;
      const double up = dpo_loss(mw, ml, rw, rl, beta).loss;
      (*v)[i] = keep - h;
      const double down = dpo_loss(mw, ml, rw, rl, beta).loss;
      (*v)[i] = keep;
      const double numeric = (up - down) / (2 * h);
      const double analytic = v == &mw ? d.d_model_w[i] : d.d_model_l[i];
      EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::fabs(numeric))) << "pair " << i;
    }
  }
}

TEST(DpoLoss, HugeMarginsStayFinite) {
  // beta 1e6 puts the margins at +-5e4: exp(5e4) overflows a double.
  const DpoLoss d = dpo_loss(std::vector<double>{1.0, 1.2}, std::vector<double>{1.1, 1.1},
                             std::vector<double>{1.0, 1.0}, std::vector<double>{1.0, 1.0}, 1e6);
  EXPECT_TRUE(std::isfinite(d.loss));
  EXPECT_NEAR(d.loss, 0.5 * 5e4, 1.0);  // the wrong-way pair costs its margin, the right one nothing
  for (const double g : d.d_model_w) EXPECT_TRUE(std::isfinite(g));
  EXPECT_DOUBLE_EQ(d.implicit_accuracy, 0.5);
}

}  // namespace
}  // namespace sv::train
