// The 1F1B plan of every stage, run together in a simulation where a send
// completes only when the peer's current step receives it (rendezvous, the
// strictest thing MPI may do with a large message): every combination of
// stages and micro-batches finishes without a deadlock, each message arrives
// as the micro-batch the receiver expects, every micro-batch is forwarded and
// then backwarded once per stage, and stage s never holds more than P - s
// micro-batches' activations.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "train/pipeline_step.h"

namespace sv::train {
namespace {

using Kind = PipeStep::Kind;

// One half of a communication step: a send or a receive with one neighbour.
struct Half {
  bool send;
  int peer;
  bool forward;  // an activation (else a gradient)
  int64_t micro_batch;
  bool done = false;
};

std::vector<Half> halves(const PipeStep& s, int stage) {
  switch (s.kind) {
    case Kind::RecvForward: return {{false, stage - 1, true, s.micro_batch}};
    case Kind::SendForward: return {{true, stage + 1, true, s.micro_batch}};
    case Kind::RecvBackward: return {{false, stage + 1, false, s.micro_batch}};
    case Kind::SendBackward: return {{true, stage - 1, false, s.micro_batch}};
    case Kind::SendForwardRecvBackward:
      return {{true, stage + 1, true, s.micro_batch}, {false, stage + 1, false, s.received}};
    case Kind::SendBackwardRecvForward:
      return {{true, stage - 1, false, s.micro_batch}, {false, stage - 1, true, s.received}};
    default: return {};
  }
}

struct StageRun {
  std::vector<PipeStep> plan;
  size_t at = 0;
  std::vector<Half> current;  // halves of plan[at] still to complete
  std::set<int64_t> received_forward, received_backward, forwarded, backwarded;
  size_t max_alive = 0;
  bool finished() const { return at == plan.size(); }
};

void simulate(int stages, int64_t micro_batches) {
  SCOPED_TRACE(testing::Message() << stages << " stages, " << micro_batches << " micro-batches");
  std::vector<StageRun> run(static_cast<size_t>(stages));
  for (int s = 0; s < stages; ++s) {
    run[static_cast<size_t>(s)].plan = one_f_one_b_plan(stages, s, micro_batches);
    run[static_cast<size_t>(s)].current = halves(run[static_cast<size_t>(s)].plan.front(), s);
  }
  for (bool progress = true; progress;) {
    progress = false;
    for (int s = 0; s < stages; ++s) {
      StageRun& me = run[static_cast<size_t>(s)];
      if (me.finished()) continue;
      const PipeStep& step = me.plan[me.at];
      const bool first = s == 0, last = s == stages - 1;
      // Compute steps need their input; they then complete at once.
      if (step.kind == Kind::Forward) {
        ASSERT_TRUE(first || me.received_forward.count(step.micro_batch)) << "stage " << s;
        ASSERT_TRUE(me.forwarded.insert(step.micro_batch).second);
        me.max_alive = std::max(me.max_alive, me.forwarded.size() - me.backwarded.size());
      } else if (step.kind == Kind::Backward) {
        ASSERT_TRUE(me.forwarded.count(step.micro_batch));
        ASSERT_TRUE(last || me.received_backward.count(step.micro_batch)) << "stage " << s;
        ASSERT_EQ(static_cast<int64_t>(me.backwarded.size()), step.micro_batch) << "backwards in order";
        me.backwarded.insert(step.micro_batch);
      } else {
        // Match each pending send of this stage with the peer's current receive.
        for (Half& h : me.current) {
          if (h.done || !h.send) continue;
          StageRun& peer = run[static_cast<size_t>(h.peer)];
          for (Half& r : peer.current) {
            if (r.done || r.send || r.peer != s || r.forward != h.forward) continue;
            ASSERT_EQ(r.micro_batch, h.micro_batch) << "stage " << h.peer << " expects another micro-batch from " << s;
            (r.forward ? peer.received_forward : peer.received_backward).insert(r.micro_batch);
            r.done = h.done = true;
            progress = true;
          }
        }
        // The peer's step may have completed with this match: advance it below.
        bool all_done = true;
        for (const Half& h : me.current) all_done = all_done && h.done;
        if (!all_done) continue;
      }
      progress = true;
      if (++me.at < me.plan.size()) me.current = halves(me.plan[me.at], s);
    }
    // Advance stages whose receives were all completed by their peers.
    for (int s = 0; s < stages; ++s) {
      StageRun& me = run[static_cast<size_t>(s)];
      if (me.finished() || me.current.empty()) continue;
      bool all_done = true;
      for (const Half& h : me.current) all_done = all_done && h.done;
      if (all_done) {
        progress = true;
        if (++me.at < me.plan.size()) me.current = halves(me.plan[me.at], s);
      }
    }
  }
  for (int s = 0; s < stages; ++s) {
    const StageRun& me = run[static_cast<size_t>(s)];
    ASSERT_TRUE(me.finished()) << "deadlock: stage " << s << " stuck at step " << me.at << " of " << me.plan.size();
    EXPECT_EQ(static_cast<int64_t>(me.forwarded.size()), micro_batches);
    EXPECT_EQ(static_cast<int64_t>(me.backwarded.size()), micro_batches);
    EXPECT_LE(me.max_alive, static_cast<size_t>(stages - s)) << "stage " << s;
  }
}

TEST(PipelinePlan, EveryStageFinishesWithoutDeadlock) {
  for (int stages = 1; stages <= 5; ++stages) {
    for (int64_t m = 1; m <= 9; ++m) simulate(stages, m);
  }
}

TEST(PipelinePlan, WarmUpIsTheStagesStillToFill) {
  // Stage 0 of 4 with 6 micro-batches: three forwards before its first backward.
  const std::vector<PipeStep> plan = one_f_one_b_plan(4, 0, 6);
  std::vector<Kind> compute;
  for (const PipeStep& s : plan) {
    if (s.kind == Kind::Forward || s.kind == Kind::Backward) compute.push_back(s.kind);
  }
  const std::vector<Kind> expected{Kind::Forward,  Kind::Forward,  Kind::Forward,  Kind::Forward,
                                   Kind::Backward, Kind::Forward,  Kind::Backward, Kind::Forward,
                                   Kind::Backward, Kind::Backward, Kind::Backward, Kind::Backward};
  EXPECT_EQ(compute, expected);
  // The last stage alternates from the start and never waits for a gradient.
  for (const PipeStep& s : one_f_one_b_plan(4, 3, 6)) {
    EXPECT_NE(s.kind, Kind::RecvBackward);
    EXPECT_NE(s.kind, Kind::SendForwardRecvBackward);
  }
}

}  // namespace
}  // namespace sv::train
