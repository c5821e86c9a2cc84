// NCCL communicator on one rank (no MPI in this binary): every collective must
// round-trip device buffers exactly. Multi-rank behaviour is covered by the
// MPI-launched tests; this checks the NCCL plumbing and argument checks.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "backend/cuda/cuda_context.h"
#include "backend/cuda/cuda_device.h"
#include "backend/cuda/cuda_memory.h"
#include "core/error.h"
#include "parallel/nccl_communicator.h"

namespace sv {
namespace {

std::vector<float> ramp(int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(i) - 3.0f;
  return v;
}

std::vector<float> host_values(const Tensor& gpu, const CudaContext& ctx) {
  const Tensor cpu = to_cpu(gpu, ctx);
  const float* p = cpu.data<float>();
  return std::vector<float>(p, p + cpu.numel());
}

TEST(NcclCommunicator, SingleRankCollectives) {
  if (!sv::cuda_available()) GTEST_SKIP() << "no CUDA device";
  CudaContext ctx(0);
  auto comm = make_nccl_single_rank_communicator("tp", ctx);
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  EXPECT_EQ(comm->name(), "tp");

  constexpr int64_t n = 1037;  // odd: no vector-width multiple
  const std::vector<float> in = ramp(n, 0.25f);

  Tensor buf = to_cuda(Tensor::from_vector(in, {n}), ctx);
  comm->all_reduce_sum(buf.data<float>(), n);
  EXPECT_EQ(host_values(buf, ctx), in);  // the sum over one rank is the input

  Tensor gathered = cuda_empty({n}, DType::F32, ctx);
  const std::vector<int64_t> counts{n};
  comm->all_gatherv(buf.data<float>(), gathered.data<float>(), counts);
  EXPECT_EQ(host_values(gathered, ctx), in);

  Tensor scattered = cuda_empty({n}, DType::F32, ctx);
  comm->reduce_scatter_sum(buf.data<float>(), scattered.data<float>(), n);
  EXPECT_EQ(host_values(scattered, ctx), in);

  Tensor exchanged = cuda_empty({n}, DType::F32, ctx);
  comm->all_to_allv(buf.data<float>(), counts, exchanged.data<float>(), counts);
  EXPECT_EQ(host_values(exchanged, ctx), in);

  comm->broadcast_bytes(buf.data<float>(), n * static_cast<int64_t>(sizeof(float)), 0);
  EXPECT_EQ(host_values(buf, ctx), in);

  comm->barrier();
  comm->all_reduce_sum(buf.data<float>(), 0);  // empty messages are legal
}

TEST(NcclCommunicator, RejectsBadArguments) {
  if (!sv::cuda_available()) GTEST_SKIP() << "no CUDA device";
  CudaContext ctx(0);
  auto comm = make_nccl_single_rank_communicator("sp", ctx);
  Tensor buf = cuda_empty({8}, DType::F32, ctx);
  const std::vector<int64_t> two{4, 4};
  EXPECT_THROW(comm->all_gatherv(buf.data<float>(), buf.data<float>(), two), CommError);
  EXPECT_THROW(comm->all_reduce_sum(buf.data<float>(), -1), CommError);
  EXPECT_THROW(comm->send(buf.data<float>(), 8, 0, 0), CommError);  // to itself
  EXPECT_THROW(comm->broadcast_bytes(buf.data<float>(), 32, 1), CommError);
}

}  // namespace
}  // namespace sv
