// Run under mpirun (2 or more ranks, part of stepvideo_mpi_comm_tests): ZeRO-1
// (ShardedAdamW fed by the reduction's own chunks) leaves the very weights
// and moments AdamW leaves on the summed gradients, step after step; its
// global norm is the summed gradient's; moments survive gather -> restore.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "parallel/mpi_communicator.h"
#include "world_copy.h"
#include "train/adamw.h"
#include "train/gradient_reduction.h"
#include "train/sharded_adamw.h"

namespace sv {
namespace {

// Matrices (decayed) and vectors (not), sizes that are no multiple of the
// rank count; with 1 KiB buckets several parameters straddle chunks.
void declare(ParameterRegistry& registry) {
  const std::vector<Shape> shapes{Shape{5}, Shape{3, 100}, Shape{3}, Shape{7, 143}, Shape{64}, Shape{2, 2, 9}};
  for (size_t i = 0; i < shapes.size(); ++i) {
    Parameter& p = registry.declare(fmt::format("p{}", i), shapes[i], Init::FanIn);
    p.value = Tensor::empty(shapes[i], DType::F32);
    for (int64_t k = 0; k < p.value.numel(); ++k) {
      p.value.data<float>()[k] = 0.01f * static_cast<float>((k * 7 + static_cast<int64_t>(i)) % 23) - 0.1f;
    }
  }
}

// Rank r's gradient of element k of parameter i at step s: small integers
// (exact sums in any order) scaled by a power of two.
float contribution(int rank, size_t i, int64_t k, int step) {
  return 0.125f * static_cast<float>((rank + 2) * ((k + 5 * static_cast<int64_t>(i) + 3 * step) % 13) - 9);
}

void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.numel(), b.numel()) << what;
  EXPECT_EQ(std::memcmp(a.data<float>(), b.data<float>(), static_cast<size_t>(a.numel()) * sizeof(float)), 0) << what;
}

TEST(ShardedAdamW, SameWeightsAndMomentsAsAdamWOnTheSummedGradients) {
  auto dp = test_support::dp_world_copy();
  auto tp = make_self_communicator("tp");
  const int ranks = dp->size(), me = dp->rank();
  ParameterRegistry reference_params, sharded_params;
  declare(reference_params);
  declare(sharded_params);
  std::vector<Parameter*> order;
  for (const auto& p : sharded_params.parameters()) order.push_back(p.get());
  constexpr int64_t kBucketBytes = 1024;
  const train::BucketLayout layout = train::plan_buckets(order, kBucketBytes, ranks);
  ASSERT_GE(layout.buckets.size(), 3u);

  train::AdamWSettings settings;
  settings.max_grad_norm = 5.0f;  // clips in some steps, not in others
  train::AdamW reference(settings);
  train::ShardedAdamW sharded(settings, layout, dp, tp, make_self_communicator("pp"));
  train::BucketedGradientReduction reduction(dp, kBucketBytes, train::BucketedGradientReduction::Result::OwnChunks);
  for (int step = 0; step < 3; ++step) {
    // The reference sums every rank's contribution itself.
    std::vector<Tensor> sums;
    std::vector<train::ParameterGradient> list;
    for (size_t i = 0; i < reference_params.parameters().size(); ++i) {
      Parameter& p = *reference_params.parameters()[i];
      Tensor sum = Tensor::zeros(p.value.shape(), DType::F32);
      for (int r = 0; r < ranks; ++r) {
        for (int64_t k = 0; k < sum.numel(); ++k) sum.data<float>()[k] += contribution(r, i, k, step);
      }
      list.push_back(train::ParameterGradient{&p, sum});
    }
    const double norm = train::AdamW::global_norm(list);
    // The sharded side sends its own contribution through the reduction.
    std::vector<Tensor> mine;
    for (size_t i = 0; i < order.size(); ++i) {
      Tensor g = Tensor::empty(order[i]->value.shape(), DType::F32);
      for (int64_t k = 0; k < g.numel(); ++k) g.data<float>()[k] = contribution(me, i, k, step);
      mine.push_back(g);
      reduction.add(g);
    }
    reduction.finish();
    ASSERT_EQ(reduction.bucket_sizes().size(), layout.buckets.size());
    const double sharded_norm = sharded.global_norm(reduction.own_chunks());
    EXPECT_NEAR(sharded_norm, norm, 1e-12 * norm) << "step " << step;
    // The same norm to both: the update must then be the same bits.
    const train::StepReport a = reference.step(list, 1e-2f, norm);
    const train::StepReport b = sharded.step(reduction.own_chunks(), 1e-2f, norm);
    EXPECT_EQ(a.clipped, b.clipped);
    for (size_t i = 0; i < order.size(); ++i) {
      expect_same_bits(sharded_params.parameters()[i]->value, reference_params.parameters()[i]->value,
                       "weights of " + order[i]->name + " after step " + std::to_string(step));
    }
  }
  // The moments come together on rank 0 only (the checkpoint writer's side).
  const auto gathered = sharded.gather_moments();
  ASSERT_EQ(gathered.size(), me == 0 ? order.size() : 0u);
  for (const auto& [name, m] : gathered) {
    expect_same_bits(m.exp_avg, reference.moments(name)->exp_avg, "exp_avg of " + name);
    expect_same_bits(m.exp_avg_sq, reference.moments(name)->exp_avg_sq, "exp_avg_sq of " + name);
  }
  // A fresh optimizer restored from the reference's moments (a checkpoint)
  // holds the same shares: gathering gives them back.
  train::ShardedAdamW restored(settings, layout, dp, tp, make_self_communicator("pp"));
  restored.restore(reference.steps_taken(), reference.all_moments());
  EXPECT_EQ(restored.steps_taken(), 3);
  const auto regathered = restored.gather_moments();
  ASSERT_EQ(regathered.size(), me == 0 ? order.size() : 0u);
  for (const auto& [name, m] : regathered) {
    expect_same_bits(m.exp_avg, reference.moments(name)->exp_avg, "restored exp_avg of " + name);
  }
  // Each rank holds 1/ranks of the moments (each bucket padded).
  int64_t elements = 0;
  for (const auto& b : layout.buckets) elements += b.padded;
  EXPECT_EQ(sharded.moment_bytes(), 2 * elements / ranks * static_cast<int64_t>(sizeof(float)));
}

}  // namespace
}  // namespace sv
