// Preference labelling without a browser: the judgement format and its log
// semantics (last line of a pair in force, undo), encode-dataset reading a
// label log, the pairs file (resume, torn tail, foreign files left alone),
// candidates of a run directory, and the session's rules for several tabs
// (no pair judged twice, even by racing threads).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "temp_dir_test.h"
#include "label/candidates.h"
#include "label/judgement_log.h"
#include "label/label_session.h"
#include "train/dataset_manifest.h"
#include "train/preference_judgements.h"

namespace sv::label {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using train::Judgement;
using train::Verdict;

class LabelTest : public test::TempDirTest {
 protected:
  // A finished candidate: its video and its sidecar.
  void candidate(const std::string& of, int sample, const std::string& ext = ".mp4") {
    const std::string id = of + "-s" + std::to_string(sample);
    write(id + ext, "video");
    write(id + ".json", json{{"id", id}, {"video", id + ext}, {"prompt", "prompt of " + of},
                             {"candidate", {{"of", of}, {"sample", sample}, {"samples", 3}}}}.dump());
  }
};

Judgement preferred(const std::string& id, const std::string& chosen, const std::string& rejected) {
  Judgement g;
  g.pair_id = id;
  g.verdict = Verdict::Preferred;
  g.prompt = "a kite";
  g.chosen = chosen;
  g.rejected = rejected;
  g.left = rejected;  // the chosen one was on the right
  g.right = chosen;
  g.time = "2026-12-03T00:00:00Z";
  return g;
}

Judgement marked(const std::string& id, Verdict verdict) {
  Judgement g;
  g.pair_id = id;
  g.verdict = verdict;
  if (verdict != Verdict::Undo) {
    g.prompt = "a kite";
    g.left = "a.mp4";
    g.right = "b.mp4";
  }
  return g;
}

TEST_F(LabelTest, JudgementRecordsRoundTripAndBadOnesAreRefused) {
  for (const Judgement& g : {preferred("p", "b.mp4", "a.mp4"), marked("p", Verdict::Tie),
                             marked("p", Verdict::Skip), marked("p", Verdict::Undo)}) {
    const json j = train::judgement_record(g);
    ASSERT_TRUE(train::is_judgement_line(j)) << j.dump();
    const Judgement back = train::parse_judgement(j);
    EXPECT_EQ(train::judgement_record(back), j);
  }
  json j = train::judgement_record(preferred("p", "b.mp4", "a.mp4"));
  j["chosen"] = "c.mp4";  // not one of the two shown
  EXPECT_THROW(train::parse_judgement(j), InputError);
  j = train::judgement_record(marked("p", Verdict::Tie));
  j["chosen"] = "a.mp4";
  EXPECT_THROW(train::parse_judgement(j), InputError);
  j = train::judgement_record(marked("p", Verdict::Tie));
  j["label"] = "maybe";
  EXPECT_THROW(train::parse_judgement(j), InputError);
  j = train::judgement_record(marked("p", Verdict::Tie));
  j["extra"] = 1;
  EXPECT_THROW(train::parse_judgement(j), InputError);
}

TEST_F(LabelTest, TheLastJudgementOfAPairIsInForceAndUndoClearsIt) {
  const std::vector<Judgement> log{preferred("a", "1", "2"), marked("b", Verdict::Tie), marked("a", Verdict::Undo),
                                   preferred("a", "2", "1"), marked("c", Verdict::Skip), marked("c", Verdict::Undo)};
  const std::map<std::string, size_t> in_force = train::judgements_in_force(log);
  ASSERT_EQ(in_force.size(), 2u);
  EXPECT_EQ(in_force.at("a"), 3u);
  EXPECT_EQ(in_force.at("b"), 1u);
}

TEST_F(LabelTest, EncodeDatasetReadsTheLogsPreferredPairsInForce) {
  std::string text;
  for (const Judgement& g : {preferred("x", "x1.mp4", "x0.mp4"), marked("y", Verdict::Tie),
                             preferred("z", "z1.mp4", "z0.mp4"), marked("x", Verdict::Undo),
                             preferred("x", "x0.mp4", "x1.mp4"), marked("w", Verdict::Skip)}) {
    text += train::judgement_record(g).dump() + "\n";
  }
  text += json{{"id", "z"}, {"prompt", "p"}, {"chosen", "q.mp4"}, {"rejected", "r.mp4"}}.dump() + "\n";
  const train::DatasetManifest m = train::read_dataset_manifest(write("pairs.jsonl", text));
  EXPECT_TRUE(m.pairs);
  ASSERT_EQ(m.items.size(), 2u);  // x as re-judged on line 5, z from its plain line 7
  EXPECT_EQ(m.items[0].id, "x");
  EXPECT_EQ(m.items[0].line, 5);
  EXPECT_EQ(m.items[0].media, dir_ / "x0.mp4");
  EXPECT_EQ(m.items[0].rejected, dir_ / "x1.mp4");
  EXPECT_EQ(m.items[1].id, "z");
  EXPECT_EQ(m.items[1].line, 7);
  EXPECT_EQ(m.undecided_pairs, 2);  // y (tie) and w (skipped)
  ASSERT_EQ(m.bad_lines.size(), 1u);  // the judgement of z clashes with the plain line's id
  EXPECT_EQ(m.bad_lines[0].line, 3);
}

TEST_F(LabelTest, PairsFileResumesAndCutsOnlyATornTail) {
  const fs::path path = dir_ / "pairs.jsonl";
  {
    JudgementLog log(path);
    EXPECT_TRUE(log.judgements().empty());
    log.append(preferred("a", "1", "2"));
    log.append(marked("b", Verdict::Tie));
  }
  const std::string two = read(path);
  std::ofstream(path, std::ios::app) << R"({"id":"c","label":"pre)";  // a crash mid-append
  {
    JudgementLog log(path);
    ASSERT_EQ(log.judgements().size(), 2u);
    EXPECT_EQ(read(path), two);
    log.append(marked("c", Verdict::Skip));
  }
  JudgementLog again(path);
  ASSERT_EQ(again.judgements().size(), 3u);
  EXPECT_EQ(again.judgements()[2].pair_id, "c");

  // A complete last line without its newline is kept, and the next append starts a new line.
  const std::string unterminated = train::judgement_record(marked("d", Verdict::Tie)).dump();
  const fs::path other = write("other.jsonl", unterminated);
  {
    JudgementLog log(other);
    ASSERT_EQ(log.judgements().size(), 1u);
    log.append(marked("e", Verdict::Skip));
  }
  EXPECT_EQ(JudgementLog(other).judgements().size(), 2u);
}

TEST_F(LabelTest, AFileThatIsNotALabelLogIsRefusedUntouched) {
  const std::string manifest = json{{"prompt", "p"}, {"chosen", "a.mp4"}, {"rejected", "b.mp4"}}.dump() + "\n";
  for (const auto& [name, bytes] : {std::pair{"manifest.jsonl", manifest}, {"notes.txt", "remember the milk"},
                                    {"mixed.jsonl", train::judgement_record(marked("a", Verdict::Tie)).dump() +
                                                        "\nnot json\n"}}) {
    const fs::path p = write(name, bytes);
    try {
      JudgementLog log(p);
      ADD_FAILURE() << name << " was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(p.string() + ":"), std::string::npos) << e.what();
    }
    EXPECT_EQ(read(p), bytes) << name;
  }
}

TEST_F(LabelTest, CandidatesPairEveryTwoFinishedOnesOfAPrompt) {
  for (int k : {0, 1, 2}) candidate("kite", k);
  candidate("fox", 0);
  candidate("fox", 1);
  candidate("owl", 0);                      // alone: no pair
  write("fox-s2.json", json{{"id", "fox-s2"}, {"video", "fox-s2.mp4"}, {"prompt", "p"},  // its video is missing
                            {"candidate", {{"of", "fox"}, {"sample", 2}, {"samples", 3}}}}.dump());
  write("unrelated.json", "{\"id\": \"x\"}");
  const CandidateSet set = read_candidates(dir_);
  EXPECT_EQ(set.candidates.size(), 6u);
  EXPECT_EQ(set.prompts, 2);
  std::vector<std::string> ids;
  bool some_swapped = false;
  for (const CandidatePair& p : set.pairs) {
    ids.push_back(p.id);
    const Candidate &l = set.candidates[p.left], &r = set.candidates[p.right];
    EXPECT_EQ(l.of, r.of);
    EXPECT_TRUE(l.video.is_absolute());
    some_swapped = some_swapped || l.sample > r.sample;
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"fox-s0-vs-s1", "kite-s0-vs-s1", "kite-s0-vs-s2", "kite-s1-vs-s2"}));
  EXPECT_TRUE(some_swapped) << "the left side is always the lower sample";
  // The same order and sides on every read.
  const CandidateSet again = read_candidates(dir_);
  for (size_t i = 0; i < set.pairs.size(); ++i) EXPECT_EQ(again.pairs[i].left, set.pairs[i].left);

  fs::remove(dir_ / "fox-s1.mp4");  // unfinished: no pair of fox any more
  EXPECT_EQ(read_candidates(dir_).pairs.size(), 3u);
  candidate("mkv", 0, ".mkv");
  candidate("mkv", 1, ".mkv");
  EXPECT_THROW(read_candidates(dir_), NotSupported);
  const fs::path empty = dir_ / "empty";
  fs::create_directories(empty);
  EXPECT_THROW(read_candidates(empty), InputError);
  EXPECT_THROW(read_candidates(dir_ / "missing"), InputError);
}

// Four pairs of two prompts, candidates only by path (the session never opens them).
CandidateSet four_pairs() {
  CandidateSet set;
  for (const char* of : {"a", "b"}) {
    for (int k = 0; k < 3; ++k) {
      set.candidates.push_back({fmt::format("{}-s{}", of, k), of, "prompt", k, fmt::format("/v/{}-s{}.mp4", of, k)});
    }
  }
  set.pairs = {{"a-s0-vs-s1", 0, 1}, {"a-s0-vs-s2", 2, 0}, {"b-s0-vs-s1", 3, 4}, {"b-s1-vs-s2", 4, 5}};
  set.prompts = 2;
  return set;
}

TEST_F(LabelTest, TabsGetDifferentPairsAndAPairIsJudgedOnce) {
  JudgementLog log(dir_ / "pairs.jsonl");
  LabelSession s(four_pairs(), log);
  const auto t0 = LabelSession::Clock::now();
  EXPECT_EQ(s.next("A", t0), 0u);
  EXPECT_EQ(s.next("B", t0), 1u);
  EXPECT_EQ(s.next("A", t0), 0u);  // still its pair
  EXPECT_EQ(s.judge("A", "a-s0-vs-s1", Choice::Right), Outcome::Recorded);
  EXPECT_EQ(s.judge("B", "a-s0-vs-s1", Choice::Left), Outcome::AlreadyDecided);
  EXPECT_EQ(s.decision_of("a-s0-vs-s1"), "right better");
  EXPECT_EQ(s.judge("A", "nope", Choice::Left), Outcome::UnknownPair);
  EXPECT_EQ(s.next("A", t0), 2u);  // B still holds pair 1
  // B left long ago: its pair goes to the next tab that asks.
  EXPECT_EQ(s.next("C", t0 + LabelSession::kLease + std::chrono::seconds(1)), 1u);
  EXPECT_EQ(s.judge("C", "a-s0-vs-s2", Choice::Tie), Outcome::Recorded);
  EXPECT_EQ(s.judge("A", "b-s0-vs-s1", Choice::Skip), Outcome::Recorded);
  Progress p = s.progress();
  EXPECT_EQ(p.total, 4);
  EXPECT_EQ(p.judged, 2);
  EXPECT_EQ(p.skipped, 1);
  EXPECT_EQ(p.open(), 1);

  EXPECT_EQ(s.undo("A", "a-s0-vs-s1"), Outcome::Recorded);
  EXPECT_EQ(s.undo("B", "a-s0-vs-s1"), Outcome::NotDecided);
  EXPECT_EQ(s.next("A", t0), 0u);  // the undone pair comes back to the tab that undid it
  EXPECT_EQ(s.progress().judged, 1);

  const std::vector<Judgement>& all = log.judgements();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].verdict, Verdict::Preferred);
  EXPECT_EQ(all[0].chosen, "/v/a-s1.mp4");
  EXPECT_EQ(all[0].rejected, "/v/a-s0.mp4");
  EXPECT_EQ(all[0].left, "/v/a-s0.mp4");
  EXPECT_EQ(all[1].verdict, Verdict::Tie);
  EXPECT_EQ(all[1].left, "/v/a-s2.mp4");  // pair 1 shows sample 2 on the left
  EXPECT_EQ(all[3].verdict, Verdict::Undo);

  // A restart replays the file into the same state.
  JudgementLog reopened(dir_ / "pairs.jsonl");
  LabelSession back(four_pairs(), reopened);
  EXPECT_EQ(back.progress().judged, 1);
  EXPECT_EQ(back.progress().skipped, 1);
  EXPECT_EQ(back.decision_of("a-s0-vs-s1"), "");
  EXPECT_EQ(back.decision_of("a-s0-vs-s2"), "a tie");
}

TEST_F(LabelTest, RacingJudgementsOfOnePairRecordExactlyOne) {
  const fs::path path = dir_ / "pairs.jsonl";
  {
    JudgementLog log(path);
    LabelSession s(four_pairs(), log);
    std::vector<std::thread> tabs;
    std::atomic<int> recorded{0}, refused{0};
    for (int t = 0; t < 8; ++t) {
      tabs.emplace_back([&, t] {
        for (const char* pair : {"a-s0-vs-s1", "a-s0-vs-s2", "b-s0-vs-s1", "b-s1-vs-s2"}) {
          const Outcome o = s.judge("tab" + std::to_string(t), pair, t % 2 ? Choice::Left : Choice::Right);
          (o == Outcome::Recorded ? recorded : refused)++;
        }
      });
    }
    for (std::thread& t : tabs) t.join();
    EXPECT_EQ(recorded.load(), 4);
    EXPECT_EQ(refused.load(), 28);
  }
  JudgementLog log(path);
  ASSERT_EQ(log.judgements().size(), 4u);
  std::set<std::string> ids;
  for (const Judgement& g : log.judgements()) ids.insert(g.pair_id);
  EXPECT_EQ(ids.size(), 4u);
}

}  // namespace
}  // namespace sv::label
