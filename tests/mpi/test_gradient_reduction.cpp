// Run under mpirun (2 or more ranks, part of stepvideo_mpi_comm_tests): the
// data-parallel gradient reduction sums every buffer over the ranks, leaves
// the very same bits on every rank, sends full buckets before finish(), and
// can be used step after step.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <vector>

#include "parallel/mpi_communicator.h"
#include "world_copy.h"
#include "train/gradient_reduction.h"

namespace sv {
namespace {

// Rank r's contribution to element i of buffer b at step s: small integers,
// so every sum is exact whatever order the ranks add in.
float contribution(int rank, int64_t buffer, int64_t i, int step) {
  return static_cast<float>((rank + 1) * ((i + 3 * buffer + step) % 17) - 8);
}

TEST(GradientReduction, SumsEveryBufferIdenticallyOnEveryRank) {
  auto dp = test_support::dp_world_copy();
  const int ranks = dp->size(), me = dp->rank();
  // Uneven sizes (not multiples of the rank count) and 1 KiB buckets: several
  // buckets, each padded.
  const std::vector<int64_t> sizes{5, 1000, 3, 7001, 64};
  train::BucketedGradientReduction reduction(dp, 1024);
  for (int step = 0; step < 2; ++step) {
    std::vector<Tensor> buffers;
    for (size_t b = 0; b < sizes.size(); ++b) {
      Tensor t = Tensor::empty(Shape{sizes[b]}, DType::F32);
      for (int64_t i = 0; i < sizes[b]; ++i) t.data<float>()[i] = contribution(me, static_cast<int64_t>(b), i, step);
      buffers.push_back(t);
      reduction.add(t);
    }
    reduction.finish();
    const auto counts = reduction.last_step();
    EXPECT_GE(counts.buckets, 3);
    EXPECT_GE(counts.early, 2) << "full buckets must be sent before finish()";
    for (size_t b = 0; b < sizes.size(); ++b) {
      for (int64_t i = 0; i < sizes[b]; ++i) {
        float expected = 0.0f;
        for (int r = 0; r < ranks; ++r) expected += contribution(r, static_cast<int64_t>(b), i, step);
        ASSERT_EQ(buffers[b].data<float>()[i], expected) << "buffer " << b << " element " << i << " step " << step;
      }
      // Rank 0's bits everywhere.
      std::vector<float> root(buffers[b].data<float>(), buffers[b].data<float>() + sizes[b]);
      dp->broadcast_bytes(root.data(), sizes[b] * static_cast<int64_t>(sizeof(float)), 0);
      EXPECT_EQ(std::memcmp(root.data(), buffers[b].data<float>(), root.size() * sizeof(float)), 0);
    }
  }
}

// Non-integer values: the sum differs from a plain sequential sum only by
// rounding, and is still bit-identical across ranks.
TEST(GradientReduction, RoundedSumsAgreeAcrossRanks) {
  auto dp = test_support::dp_world_copy();
  train::BucketedGradientReduction reduction(dp, 64 << 10);
  Tensor t = Tensor::empty(Shape{4097}, DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 0.1f * static_cast<float>(dp->rank() + 1) / static_cast<float>(i + 1);
  reduction.add(t);
  reduction.finish();
  std::vector<float> root(t.data<float>(), t.data<float>() + t.numel());
  dp->broadcast_bytes(root.data(), t.numel() * static_cast<int64_t>(sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(root.data(), t.data<float>(), root.size() * sizeof(float)), 0);
  double expected_scale = 0.0;
  for (int r = 0; r < dp->size(); ++r) expected_scale += 0.1 * (r + 1);
  for (int64_t i = 0; i < t.numel(); ++i) {
    EXPECT_NEAR(t.data<float>()[i], expected_scale / static_cast<double>(i + 1), 1e-6 * expected_scale);
  }
}

}  // namespace
}  // namespace sv
