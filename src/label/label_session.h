// The state of a labelling session, shared by the HTTP handlers (one mutex):
// which pairs are decided (replayed from the pairs file, then updated as
// judgements arrive) and which browser tab is looking at which pair. Every
// judgement is in the file, fsync'd, before it is acknowledged; a second
// judgement of a decided pair (two tabs showing it) is refused, so nothing is
// lost or recorded twice.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "label/candidates.h"
#include "label/judgement_log.h"

namespace sv::label {

enum class Choice { Left, Right, Tie, Skip };

struct Progress {
  int64_t total = 0;    // pairs to judge
  int64_t judged = 0;   // preferred or tie
  int64_t skipped = 0;
  int64_t open() const { return total - judged - skipped; }
};

enum class Outcome { Recorded, AlreadyDecided, NotDecided, UnknownPair };

class LabelSession {
 public:
  using Clock = std::chrono::steady_clock;
  // A pair handed to a tab is not handed to another for this long (unless
  // every open pair is held by some tab).
  static constexpr std::chrono::minutes kLease{10};

  LabelSession(CandidateSet candidates, JudgementLog& log);

  const CandidateSet& candidates() const { return candidates_; }

  // The pair `tab` should show: the open pair it holds, else the first open
  // pair no other tab holds, else the one held longest; nothing when every
  // pair is decided.
  std::optional<size_t> next(const std::string& tab, Clock::time_point now = Clock::now());

  // Appends the judgement (fsync'd) unless the pair is already decided.
  Outcome judge(const std::string& tab, const std::string& pair_id, Choice choice);
  // Appends an undo of a decided pair, which goes back to `tab`.
  Outcome undo(const std::string& tab, const std::string& pair_id);

  Progress progress() const;
  // "left better" / "tie" / "skipped" / "" for a pair id, for messages.
  std::string decision_of(const std::string& pair_id) const;
  // Judgements in the file about pairs that are not in this run directory.
  int64_t unknown_pairs() const { return unknown_pairs_; }

 private:
  std::optional<size_t> index_of(const std::string& pair_id) const;
  train::Judgement judgement_for(size_t pair, Choice choice) const;
  Progress progress_locked() const;
  void release_others(const std::string& tab, size_t kept);  // a tab looks at one pair at a time

  CandidateSet candidates_;
  JudgementLog& log_;
  mutable std::mutex mutex_;
  std::map<std::string, size_t> index_;
  std::vector<std::optional<train::Judgement>> decided_;  // per pair: the judgement in force
  struct Lease {
    std::string tab;
    Clock::time_point since;
  };
  std::vector<std::optional<Lease>> leases_;
  int64_t unknown_pairs_ = 0;
};

}  // namespace sv::label
