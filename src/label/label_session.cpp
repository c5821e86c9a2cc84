#include "label/label_session.h"

#include "jobs/journal.h"

namespace sv::label {

LabelSession::LabelSession(CandidateSet candidates, JudgementLog& log)
    : candidates_(std::move(candidates)), log_(log) {
  for (size_t i = 0; i < candidates_.pairs.size(); ++i) index_[candidates_.pairs[i].id] = i;
  decided_.resize(candidates_.pairs.size());
  leases_.resize(candidates_.pairs.size());
  const std::vector<train::Judgement>& all = log_.judgements();
  for (const auto& [pair_id, at] : train::judgements_in_force(all)) {
    const std::optional<size_t> i = index_of(pair_id);
    if (i) {
      decided_[*i] = all[at];
    } else {
      ++unknown_pairs_;
    }
  }
}

std::optional<size_t> LabelSession::index_of(const std::string& pair_id) const {
  const auto it = index_.find(pair_id);
  return it == index_.end() ? std::nullopt : std::optional<size_t>(it->second);
}

std::optional<size_t> LabelSession::next(const std::string& tab, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  std::optional<size_t> free, oldest;
  for (size_t i = 0; i < decided_.size(); ++i) {
    if (decided_[i]) continue;
    const std::optional<Lease>& lease = leases_[i];
    if (lease && lease->tab == tab) {
      leases_[i]->since = now;
      release_others(tab, i);
      return i;
    }
    if (!free && (!lease || now - lease->since > kLease)) free = i;
    if (lease && (!oldest || lease->since < leases_[*oldest]->since)) oldest = i;
  }
  const std::optional<size_t> pick = free ? free : oldest;
  if (pick) {
    leases_[*pick] = Lease{tab, now};
    release_others(tab, *pick);
  }
  return pick;
}

void LabelSession::release_others(const std::string& tab, size_t kept) {
  for (size_t i = 0; i < leases_.size(); ++i) {
    if (i != kept && leases_[i] && leases_[i]->tab == tab) leases_[i].reset();
  }
}

train::Judgement LabelSession::judgement_for(size_t pair, Choice choice) const {
  const CandidatePair& p = candidates_.pairs[pair];
  const Candidate& left = candidates_.candidates[p.left];
  const Candidate& right = candidates_.candidates[p.right];
  train::Judgement g;
  g.pair_id = p.id;
  g.prompt = left.prompt;
  g.left = left.video.string();
  g.right = right.video.string();
  g.time = jobs::utc_now();
  switch (choice) {
    case Choice::Left:
    case Choice::Right:
      g.verdict = train::Verdict::Preferred;
      g.chosen = choice == Choice::Left ? g.left : g.right;
      g.rejected = choice == Choice::Left ? g.right : g.left;
      break;
    case Choice::Tie: g.verdict = train::Verdict::Tie; break;
    case Choice::Skip: g.verdict = train::Verdict::Skip; break;
  }
  return g;
}

Outcome LabelSession::judge(const std::string& tab, const std::string& pair_id, Choice choice) {
  std::lock_guard lock(mutex_);
  const std::optional<size_t> i = index_of(pair_id);
  if (!i) return Outcome::UnknownPair;
  if (decided_[*i]) return Outcome::AlreadyDecided;
  const train::Judgement g = judgement_for(*i, choice);
  log_.append(g);  // in the file before the pair counts as decided
  decided_[*i] = g;
  if (leases_[*i] && leases_[*i]->tab == tab) leases_[*i].reset();
  return Outcome::Recorded;
}

Outcome LabelSession::undo(const std::string& tab, const std::string& pair_id) {
  std::lock_guard lock(mutex_);
  const std::optional<size_t> i = index_of(pair_id);
  if (!i) return Outcome::UnknownPair;
  if (!decided_[*i]) return Outcome::NotDecided;
  release_others(tab, *i);
  train::Judgement g;
  g.pair_id = pair_id;
  g.verdict = train::Verdict::Undo;
  g.time = jobs::utc_now();
  log_.append(g);
  decided_[*i].reset();
  leases_[*i] = Lease{tab, Clock::now()};
  return Outcome::Recorded;
}

Progress LabelSession::progress_locked() const {
  Progress p;
  p.total = static_cast<int64_t>(decided_.size());
  for (const std::optional<train::Judgement>& g : decided_) {
    if (!g) continue;
    if (g->verdict == train::Verdict::Skip) {
      ++p.skipped;
    } else {
      ++p.judged;
    }
  }
  return p;
}

Progress LabelSession::progress() const {
  std::lock_guard lock(mutex_);
  return progress_locked();
}

std::string LabelSession::decision_of(const std::string& pair_id) const {
  std::lock_guard lock(mutex_);
  const std::optional<size_t> i = index_of(pair_id);
  if (!i || !decided_[*i]) return "";
  const train::Judgement& g = *decided_[*i];
  switch (g.verdict) {
    case train::Verdict::Preferred: return g.chosen == g.left ? "left better" : "right better";
    case train::Verdict::Tie: return "a tie";
    case train::Verdict::Skip: return "skipped";
    case train::Verdict::Undo: break;
  }
  return "";
}

}  // namespace sv::label
