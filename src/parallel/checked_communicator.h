// Debug mode of a Communicator (STEPVIDEO_CHECK_COLLECTIVES=1): before every
// operation the ranks of the group agree on what they are about to do, and a
// disagreement is a CommError naming every rank's operation instead of a
// silent mismatch. MPI does not check that the ranks of a group call the same
// collectives in the same order with matching sizes; a mismatched pair can
// deadlock or write past a receive buffer.
//
// Collectives: each rank first all-gathers a fingerprint (its running
// sequence number in this group, the operation, its element counts, the
// root). For all-to-all(v) the full count vectors are gathered too, so that
// what rank i sends to j is exactly what j expects from i. Point-to-point:
// the sender first sends a header (per-peer sequence number, count, tag) that
// the receiver compares with its own call. The cost is one extra small
// message per operation: a debugging aid, off by default.
#pragma once

#include <memory>

#include "parallel/communicator.h"

namespace sv {

// The environment variable that switches checking on for every group a run
// creates ("1"; unset or "0" is off; anything else is a configuration error).
inline constexpr const char* kCheckCollectivesEnv = "STEPVIDEO_CHECK_COLLECTIVES";
bool collective_checks_requested();

std::shared_ptr<Communicator> make_checked_communicator(std::shared_ptr<Communicator> inner);

}  // namespace sv
