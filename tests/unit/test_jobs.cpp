// Job-system pieces without MPI or models: manifest validation, planning,
// journal replay (including a torn last record), shards, the run lock.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "jobs/journal.h"
#include "jobs/manifest.h"
#include "jobs/planner.h"
#include "jobs/run_files.h"
#include "jobs/run_lock.h"
#include "temp_dir_test.h"

namespace sv::jobs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class JobsTest : public test::TempDirTest {};

const BadLine* bad_at(const Manifest& m, int64_t line) {
  for (const BadLine& b : m.bad_lines) {
    if (b.line == line) return &b;
  }
  return nullptr;
}

TEST_F(JobsTest, JsonlDefaultsOverridesAndRounding) {
  ItemDefaults d;
  d.steps = 30;
  const Manifest m = read_manifest(write("m.jsonl",
                                         "{\"id\": \"a\", \"prompt\": \"fox\", \"seed\": 7, \"frames\": 40}\n"
                                         "\n"
                                         "{\"prompt\": \"owl\", \"negative_prompt\": \"\", \"cfg_scale\": 1}\n"),
                                   d);
  ASSERT_EQ(m.items.size(), 2u);
  EXPECT_TRUE(m.bad_lines.empty());
  EXPECT_EQ(m.items[0].id, "a");
  EXPECT_EQ(m.items[0].seed, 7);
  EXPECT_EQ(m.items[0].frames, 34);  // rounded down to a multiple of 17, as upstream
  EXPECT_EQ(m.items[0].steps, 30);
  EXPECT_EQ(m.items[1].id, "00003");  // from its line number
  EXPECT_EQ(m.items[1].negative_prompt, std::optional<std::string>(""));
  EXPECT_FALSE(m.items[1].positive_suffix.has_value());
  EXPECT_EQ(m.items[1].cfg_scale, 1.0f);
  EXPECT_EQ(m.sha256.size(), 64u);
}

TEST_F(JobsTest, EveryClassOfBadLineIsReportedAndTheRestKept) {
  const Manifest m = read_manifest(write("m.jsonl",
                                         "{\"id\": \"ok1\", \"prompt\": \"fine\"}\n"          // 1
                                         "{\"id\": \"x\", \"prompt\": \"unterminated\n"      // 2
                                         "{\"id\": \"y\", \"prompt\": \"p\", \"colour\": 1}\n"  // 3
                                         "{\"id\": \"z\", \"prompt\": \"p\", \"frames\": -17}\n"  // 4
                                         "{\"id\": \"e\", \"prompt\": \"   \"}\n"            // 5
                                         "{\"id\": \"u\", \"prompt\": \"caf\xff\"}\n"        // 6
                                         "{\"id\": \"ok1\", \"prompt\": \"again\"}\n"        // 7
                                         "{\"id\": \"s\", \"prompt\": \"p\", \"steps\": 2.5}\n"  // 8
                                         "[1, 2]\n"                                          // 9
                                         "{\"id\": \"a/b\", \"prompt\": \"p\"}\n"            // 10
                                         "{\"id\": \"ok2\", \"prompt\": \"also fine\"}\n"  // 11
                                         "{\"id\": \"h\", \"prompt\": \"p\", \"seed\": 1e400}\n"  // 12
                                         "{\"id\": \"g\", \"prompt\": \"p\", \"cfg_scale\": 1e300}\n"),  // 13
                                   ItemDefaults{});
  ASSERT_EQ(m.items.size(), 2u);
  EXPECT_EQ(m.items[0].id, "ok1");
  EXPECT_EQ(m.items[1].id, "ok2");
  ASSERT_EQ(m.bad_lines.size(), 11u);
  const std::pair<int64_t, const char*> expected[] = {
      {2, "not valid JSON"}, {3, "unknown field 'colour'"}, {4, "'frames' must be between 17 and 1020"},
      {5, "'prompt' is empty"}, {6, "not valid UTF-8"}, {7, "duplicate id 'ok1' (first used on line 1)"},
      {8, "'steps' must be an integer"}, {9, "expected a JSON object"}, {10, "outside [A-Za-z0-9._-]"},
      {12, "not valid JSON: number overflow"}, {13, "'cfg_scale' must be a finite number"}};
  for (const auto& [line, text] : expected) {
    const BadLine* b = bad_at(m, line);
    ASSERT_NE(b, nullptr) << "line " << line;
    EXPECT_NE(b->reason.find(text), std::string::npos) << "line " << line << ": " << b->reason;
  }
}

TEST_F(JobsTest, PlainTextOnePromptPerLine) {
  const Manifest m = read_manifest(write("p.txt", "\xEF\xBB\xBF" "一只猫\r\n\n  a dog  \nlast line without newline"),
                                   ItemDefaults{});
  ASSERT_EQ(m.format, ManifestFormat::Text);
  ASSERT_EQ(m.items.size(), 3u);
  EXPECT_EQ(m.items[0].prompt, "一只猫");
  EXPECT_EQ(m.items[0].id, "00001");
  EXPECT_EQ(m.items[1].prompt, "a dog");
  EXPECT_EQ(m.items[1].id, "00003");
  EXPECT_EQ(m.items[2].id, "00004");
  // Sniffed without an extension.
  EXPECT_EQ(read_manifest(write("noext", "{\"prompt\": \"x\"}\n"), ItemDefaults{}).format, ManifestFormat::Jsonl);
  EXPECT_THROW(read_manifest(dir_ / "absent.jsonl", ItemDefaults{}), InputError);
}

TEST_F(JobsTest, ReservedAndUnsafeIds) {
  EXPECT_FALSE(check_item_id("clip_01.v2-b").has_value());
  EXPECT_TRUE(check_item_id("summary").has_value());
  EXPECT_TRUE(check_item_id("run").has_value());
  EXPECT_TRUE(check_item_id(".hidden").has_value());
  EXPECT_TRUE(check_item_id("../x").has_value());
  EXPECT_TRUE(check_item_id(std::string(129, 'a')).has_value());
}

TEST_F(JobsTest, PlannerGroupsSameComputationUpToBatchSize) {
  std::vector<JobItem> items;
  for (int i = 0; i < 5; ++i) {
    JobItem it;
    it.id = "i" + std::to_string(i);
    it.frames = 17;
    it.height = it.width = 64;
    it.steps = i == 2 ? 10 : 6;  // one item computes differently
    it.cfg_scale = 9;
    it.time_shift = 13;
    items.push_back(it);
  }
  const std::vector<Batch> b = plan_batches(items, 2);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].items.size(), 2u);
  EXPECT_EQ(b[0].items[1].id, "i1");
  EXPECT_EQ(b[1].items.size(), 1u);
  EXPECT_EQ(b[1].items[0].id, "i2");
  EXPECT_EQ(b[2].items[0].id, "i3");
  EXPECT_EQ(b[2].items[1].id, "i4");
  EXPECT_EQ(b[2].index, 2);
  // Round trip through the wire format.
  const Batch back = json(b[2]).get<Batch>();
  EXPECT_EQ(back.items[1].id, "i4");
  EXPECT_EQ(back.items[1].steps, 6);
  EXPECT_THROW(plan_batches(items, 0), ConfigError);
}

TEST_F(JobsTest, JournalReplayAndTornTail) {
  const fs::path path = dir_ / "journal.jsonl";
  {
    Journal j(path);
    j.append({{"event", "start"}});
    j.append({{"event", "failed"}, {"id", "a"}, {"reason", "x"}});
    j.append({{"event", "done"}, {"id", "b"}});
    Batch batch;
    JobItem c;
    c.id = "c";
    batch.items = {c};
    batch.state = ".partial/c.h5";
    batch.first_step = 3;
    j.append({{"event", "suspended"}, {"batch", batch}, {"state", batch.state}});
    j.append({{"event", "done"}, {"id", "a"}});  // a retried and finished
  }
  std::ofstream(path, std::ios::app) << "{\"event\": \"done\", \"id\": \"d";  // killed mid-append
  JournalState s = replay(Journal::read(path));
  EXPECT_EQ(s.starts, 1);
  EXPECT_EQ(s.finished.size(), 2u);
  EXPECT_TRUE(s.failed.empty());
  ASSERT_EQ(s.suspended.size(), 1u);
  EXPECT_EQ(s.suspended[0]["batch"].get<Batch>().first_step, 3);
  EXPECT_FALSE(s.finished.count("d"));
  {
    Journal j(path);  // cuts the torn record before appending
    j.append({{"event", "done"}, {"id", "c"}});
  }
  s = replay(Journal::read(path));
  EXPECT_TRUE(s.finished.count("c"));
  EXPECT_TRUE(s.suspended.empty());  // finished since it was saved
  std::ifstream in(path);
  int lines = 0;
  for (std::string l; std::getline(in, l);) {
    ASSERT_TRUE(json::accept(l)) << l;
    ++lines;
  }
  EXPECT_EQ(lines, 6);
}

TEST_F(JobsTest, ShardsSplitLinesDisjointly) {
  EXPECT_THROW(Shard::parse("3/3"), ConfigError);
  EXPECT_THROW(Shard::parse("1"), ConfigError);
  EXPECT_THROW(Shard::parse("a/2"), ConfigError);
  const Shard s0 = Shard::parse("0/3"), s1 = Shard::parse("1/3"), s2 = Shard::parse("2/3");
  for (int64_t line = 1; line <= 30; ++line) {
    EXPECT_EQ(s0.contains(line) + s1.contains(line) + s2.contains(line), 1) << line;
  }
  EXPECT_EQ(s1.suffix(), ".shard-1-of-3");
  EXPECT_EQ(Shard::parse("0/1").suffix(), "");
  const RunFiles files{dir_, s1};
  EXPECT_EQ(files.journal().filename(), "journal.shard-1-of-3.jsonl");
}

TEST_F(JobsTest, RunLockRefusesALiveHolderAndTakesOverADeadOne) {
  const fs::path lock = dir_ / "run.lock";
  {
    RunLock held(lock);
    EXPECT_TRUE(fs::exists(lock));
    EXPECT_TRUE(RunLock::holder_alive(lock));  // this test process is "stepvideo_unit_tests"
    try {
      RunLock second(lock);
      FAIL() << "a second lock was granted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("another run is using this output directory"), std::string::npos);
    }
  }
  EXPECT_FALSE(fs::exists(lock));
  // A holder that is gone: pid of a finished child.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  int status = 0;
  ::waitpid(child, &status, 0);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::ofstream(lock) << json{{"host", host}, {"pid", child}, {"slurm_job", ""}}.dump();
  EXPECT_FALSE(RunLock::holder_alive(lock));
  { RunLock taken(lock); }
  EXPECT_FALSE(fs::exists(lock));
}

TEST_F(JobsTest, RemoveTemporariesOnlyTouchesOurs) {
  write(".tmp.123.a.mp4", "x");
  write(".tmp.123.other-shard.mp4", "x");
  write("a.mp4", "complete");
  fs::create_directories(dir_ / ".partial");
  write(".partial/.tmp.9.a.h5", "x");
  EXPECT_EQ(remove_temporaries(dir_, {"a.mp4", "a.h5"}), 2);
  EXPECT_TRUE(fs::exists(dir_ / ".tmp.123.other-shard.mp4"));
  EXPECT_TRUE(fs::exists(dir_ / "a.mp4"));
}

}  // namespace
}  // namespace sv::jobs
