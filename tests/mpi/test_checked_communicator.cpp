// Run under mpirun (2 or more ranks): the checked communicator
// (STEPVIDEO_CHECK_COLLECTIVES) passes matching operations through unchanged
// and turns every kind of mismatch between ranks into a CommError that names
// each rank's operation, on every rank, instead of a hang or a write past a
// receive buffer.
#include <gtest/gtest.h>
#include <mpi.h>

#include <numeric>
#include <string>
#include <vector>

#include "core/error.h"
#include "parallel/checked_communicator.h"
#include "parallel/mpi_communicator.h"

namespace sv {
namespace {

std::shared_ptr<Communicator> world_copy(bool checked) {
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  auto inner = make_mpi_communicator(comm, "test");
  return checked ? make_checked_communicator(inner) : inner;
}

// The message of the CommError `f` throws ("" when it throws nothing).
template <typename F>
std::string comm_error(F&& f) {
  try {
    f();
  } catch (const CommError& e) {
    return e.what();
  }
  return "";
}

// Every collective and point-to-point operation gives the same result with
// and without the checks, for uneven counts.
TEST(CheckedCommunicator, MatchingOperationsGiveTheUncheckedResults) {
  for (bool checked : {false, true}) {
    auto c = world_copy(checked);
    const int n = c->size(), me = c->rank();
    std::vector<float> sum{float(me), 1.0f, 2.0f * float(me)};
    c->all_reduce_sum(sum.data(), 3);
    const float ranks = float(n * (n - 1) / 2);
    EXPECT_EQ(sum, (std::vector<float>{ranks, float(n), 2 * ranks}));

    std::vector<int64_t> counts(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r) counts[static_cast<size_t>(r)] = r + 1;
    std::vector<float> mine(static_cast<size_t>(me + 1), float(me)), all(static_cast<size_t>(n * (n + 1) / 2));
    c->all_gatherv(mine.data(), all.data(), counts);
    size_t at = 0;
    for (int r = 0; r < n; ++r) {
      for (int k = 0; k <= r; ++k) EXPECT_EQ(all[at++], float(r));
    }

    // Rank i sends i + j + 1 elements of value 100 i + j to rank j.
    std::vector<int64_t> sc(static_cast<size_t>(n)), rc(static_cast<size_t>(n));
    std::vector<float> send, recv;
    for (int j = 0; j < n; ++j) {
      sc[static_cast<size_t>(j)] = me + j + 1;
      rc[static_cast<size_t>(j)] = j + me + 1;
      send.insert(send.end(), static_cast<size_t>(me + j + 1), float(100 * me + j));
    }
    recv.resize(static_cast<size_t>(std::accumulate(rc.begin(), rc.end(), int64_t{0})));
    c->all_to_allv(send.data(), sc, recv.data(), rc);
    at = 0;
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < i + me + 1; ++k) EXPECT_EQ(recv[at++], float(100 * i + me));
    }

    int64_t value = me == n - 1 ? 1234567890123 : 0;
    c->broadcast_bytes(&value, sizeof value, n - 1);
    EXPECT_EQ(value, 1234567890123);
    c->barrier();

    if (me == 1) {
      const std::vector<float> data{1.5f, -2.5f, 3.5f};
      c->send(data.data(), 3, 0, 7);
    } else if (me == 0) {
      std::vector<float> data(3);
      c->recv(data.data(), 3, 1, 7);
      EXPECT_EQ(data, (std::vector<float>{1.5f, -2.5f, 3.5f}));
    }
  }
}

// Two ranks in different collectives: the mismatch named for both, on both.
TEST(CheckedCommunicator, DifferentCollectivesFailOnEveryRankNamingBoth) {
  auto c = world_copy(true);
  c->barrier();  // #0: the mismatch is at #1
  const std::string error = comm_error([&] {
    if (c->rank() == 0) {
      float flags[2] = {0, 0};
      c->all_reduce_sum(flags, 2);
    } else {
      const auto n = static_cast<size_t>(c->size());
      std::vector<int64_t> counts(n, 4);
      std::vector<float> send(4 * n), recv(4 * n);
      c->all_to_allv(send.data(), counts, recv.data(), counts);
    }
  });
  EXPECT_NE(error.find("collective mismatch"), std::string::npos) << error;
  EXPECT_NE(error.find("rank 0: #1 all-reduce of 2 element(s)"), std::string::npos) << error;
  EXPECT_NE(error.find("rank 1: #1 all-to-all sending"), std::string::npos) << error;
  c->barrier();  // the group is still usable after the detected mismatch
}

TEST(CheckedCommunicator, DifferentCountsFail) {
  auto c = world_copy(true);
  std::vector<float> data(4);
  const std::string error = comm_error([&] { c->all_reduce_sum(data.data(), c->rank() == 0 ? 3 : 4); });
  EXPECT_NE(error.find("rank 0: #0 all-reduce of 3 element(s)"), std::string::npos) << error;
  EXPECT_NE(error.find("rank 1: #0 all-reduce of 4 element(s)"), std::string::npos) << error;
}

TEST(CheckedCommunicator, SkippedCollectiveShowsAsSequenceMismatch) {
  auto c = world_copy(true);
  const std::string error = comm_error([&] {
    if (c->rank() != 0) c->barrier();  // rank 0 skips one
    float x = 0;
    c->all_reduce_sum(&x, 1);
  });
  EXPECT_NE(error.find("rank 0: #0 all-reduce"), std::string::npos) << error;
  EXPECT_NE(error.find("rank 1: #0 barrier"), std::string::npos) << error;
}

TEST(CheckedCommunicator, BroadcastRootMismatchFails) {
  auto c = world_copy(true);
  int64_t v = 0;
  const std::string error = comm_error([&] { c->broadcast_bytes(&v, sizeof v, c->rank() == 0 ? 0 : 1); });
  EXPECT_NE(error.find("from rank 0"), std::string::npos) << error;
  EXPECT_NE(error.find("from rank 1"), std::string::npos) << error;
}

// What rank 0 sends rank 1 differs from what rank 1 expects from rank 0,
// although every rank's own totals look plausible.
TEST(CheckedCommunicator, AllToAllPairCountMismatchFails) {
  auto c = world_copy(true);
  const auto n = static_cast<size_t>(c->size());
  std::vector<int64_t> sc(n, 2), rc(n, 2);
  if (c->rank() == 1) rc[0] = 3;
  std::vector<float> send(2 * n), recv(2 * n + 1);
  const std::string error = comm_error([&] { c->all_to_allv(send.data(), sc, recv.data(), rc); });
  EXPECT_NE(error.find("rank 0 sends 2 element(s) to rank 1, which expects 3 from it"), std::string::npos)
      << error;
}

TEST(CheckedCommunicator, PointToPointCountMismatchFailsAtTheReceiver) {
  const auto inner = world_copy(false);
  const auto c = make_checked_communicator(inner);
  std::vector<float> data(8);
  if (c->rank() == 1) {
    c->send(data.data(), 5, 0, 3);
  } else if (c->rank() == 0) {
    const std::string error = comm_error([&] { c->recv(data.data(), 8, 1, 3); });
    EXPECT_NE(error.find("rank 1 sent #0 send of 5 element(s) with tag 3"), std::string::npos) << error;
    EXPECT_NE(error.find("rank 0 expects #0 send of 8 element(s)"), std::string::npos) << error;
    std::vector<float> rest(5);  // the payload the check left unreceived
    inner->recv(rest.data(), 5, 1, 3);
  }
  c->barrier();
}

}  // namespace
}  // namespace sv

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  sv::MpiRuntime runtime(&argc, &argv);
  if (!runtime.active() || runtime.world_size() < 2) {
    std::fprintf(stderr, "run under mpirun with at least 2 ranks\n");
    return 1;
  }
  if (runtime.world_rank() != 0) {
    delete ::testing::UnitTest::GetInstance()->listeners().Release(
        ::testing::UnitTest::GetInstance()->listeners().default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  int any = failed;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any;
}
