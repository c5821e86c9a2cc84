#include "jobs/run_setup.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "core/log.h"
#include "core/sha256.h"
#include "io/json_file.h"
#include "jobs/run_outputs.h"
#include "models/model_directory.h"
#include "stages/write_stage.h"

namespace sv::jobs {

namespace fs = std::filesystem;
using nlohmann::json;

void to_json(json& j, const RunIdentity& r) {
  j = json{{"run_id", r.run_id}, {"owner_ids", r.owner_ids}, {"model_sha256", r.model_sha256},
           {"codec", r.codec == io::VideoCodec::FFV1 ? "ffv1" : "h264"}};
}

void from_json(const json& j, RunIdentity& r) {
  r.run_id = j.at("run_id").get<std::string>();
  r.owner_ids = j.at("owner_ids").get<std::set<std::string>>();
  r.model_sha256 = j.at("model_sha256").get<std::string>();
  r.codec = j.at("codec").get<std::string>() == "ffv1" ? io::VideoCodec::FFV1 : io::VideoCodec::H264;
}

namespace {

// The options that define every item's video unless its line says otherwise.
json run_defaults(const RunRequest& r, const std::string& model_sha256) {
  const ItemDefaults& d = r.defaults;
  return json{{"seed", d.seed},   {"frames", d.frames},       {"height", d.height},
              {"width", d.width}, {"steps", d.steps},         {"cfg_scale", d.cfg_scale},
              {"time_shift", d.time_shift}, {"fps", d.fps}, {"samples", d.samples},
              {"codec", r.codec == io::VideoCodec::FFV1 ? "ffv1" : "h264"}, {"model_sha256", model_sha256}};
}

// --new-run: the old run's journal and summary are kept under dated names.
void set_aside(const RunFiles& files) {
  const std::string stamp = utc_now();
  for (const fs::path& p : {files.journal(), files.summary()}) {
    if (!fs::exists(p)) continue;
    fs::path kept = p;
    kept.replace_extension("." + stamp + p.extension().string());
    fs::rename(p, kept);
    log_info("--new-run: kept the earlier run's {} as {}", p.filename().string(), kept.filename().string());
  }
}

// What the plans (run<shard>.json) in an output directory say: every run id
// that wrote there, and every item id some run was given.
struct DirectoryRuns {
  std::set<std::string> run_ids, planned_ids;
};

DirectoryRuns read_runs(const fs::path& out) {
  DirectoryRuns runs;
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string n = e.path().filename().string();
    if (!(n == "run.json" || (n.starts_with("run.shard-") && n.ends_with(".json")))) continue;
    const json plan = io::read_json_or_null(e.path());
    if (!plan.is_object()) continue;
    if (plan.contains("run_id")) runs.run_ids.insert(plan["run_id"].get<std::string>());
    for (const json& o : plan.value("earlier_run_ids", json::array())) runs.run_ids.insert(o.get<std::string>());
    for (const json& i : plan.value("ids", json::array())) {
      if (i.is_string()) runs.planned_ids.insert(i.get<std::string>());
    }
  }
  return runs;
}

// This run's id (kept across resumes), and every run id in the directory.
RunIdentity identify(const RunRequest& r, const RunFiles& files) {
  RunIdentity id;
  id.codec = r.codec;
  id.model_sha256 = Sha256::hex(model_identity(r.model).dump());
  const json earlier = io::read_json_or_null(files.plan());
  id.run_id = earlier.is_object() && !r.new_run ? earlier.value("run_id", "") : "";
  if (id.run_id.empty()) id.run_id = new_run_id();
  id.owner_ids = read_runs(r.out).run_ids;
  id.owner_ids.insert(id.run_id);
  return id;
}

// "run.lock" or "run.shard-K-of-N.lock". A lock is recognised by its name
// alone: a shard of the same job array creates its lock (empty for a moment)
// before it writes its plan, and no run ever replaces another shard's lock.
bool is_lock_name(const std::string& n) {
  if (n == "run.lock") return true;
  const std::string_view head = "run.shard-", tail = ".lock";
  if (!(n.size() > head.size() + tail.size() && n.starts_with(head) && n.ends_with(tail))) return false;
  const std::string k_of_n = n.substr(head.size(), n.size() - head.size() - tail.size());
  const auto of = k_of_n.find("-of-");
  if (of == std::string::npos) return false;
  try {
    const Shard s = Shard::parse(k_of_n.substr(0, of) + "/" + k_of_n.substr(of + 4));
    return s.count > 1 && n == "run" + s.suffix() + ".lock";
  } catch (const ConfigError&) {
    return false;
  }
}

// A run's own file (journal, summary, plan of some shard) is recognised by
// its plan: run<shard>.json carrying a run id.
bool is_run_file(const fs::path& out, const std::string& n) {
  if (n == ".partial" || n.find(".tmp.") != std::string::npos || is_lock_name(n)) return true;
  std::string suffix;
  bool named = false;
  for (const auto& [stem, ext] : {std::pair{"journal", ".jsonl"}, {"summary", ".json"}, {"run", ".json"}}) {
    const std::string_view s(stem), e(ext);
    if (n.size() >= s.size() + e.size() && n.starts_with(s) && n.ends_with(e)) {
      suffix = n.substr(s.size(), n.size() - s.size() - e.size());
      named = suffix.empty() || suffix.starts_with(".shard-") || suffix.starts_with(".20");  // kept by --new-run
      if (named) break;
    }
  }
  if (!named) return false;
  if (suffix.starts_with(".20")) return true;
  const json plan = io::read_json_or_null(out / ("run" + suffix + ".json"));
  return plan.is_object() && plan.contains("run_id");
}

// The item id an output file name belongs to ("a.latents.h5" -> "a").
std::string id_of_output(const std::string& n) {
  for (const char* ext : {".latents.h5", ".json", ".mp4", ".mkv"}) {
    if (n.size() > std::string_view(ext).size() && n.ends_with(ext)) return n.substr(0, n.size() - std::strlen(ext));
  }
  return "";
}

// A new run goes into an empty directory, or one holding only stepvideo runs.
// Other shards of a job array may be writing beside us: the directory is
// listed before the plans are read, and a run writes its plan before any
// output, so every output listed has its plan read. A sibling's video is
// renamed into place a moment before its sidecar (which proves ownership),
// so an output whose item some plan here was given counts as a run's too;
// that only lets the run start: no file is ever replaced without its sidecar
// naming one of this directory's runs.
void refuse_foreign_files(const RunRequest& r) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(r.out)) names.push_back(e.path().filename().string());
  const DirectoryRuns runs = read_runs(r.out);
  std::vector<std::string> foreign;
  for (const std::string& n : names) {
    if (is_run_file(r.out, n)) continue;
    const std::string item = id_of_output(n);
    if (!item.empty() && (runs.planned_ids.count(item) || owned_by(r.out, item, runs.run_ids))) continue;
    foreign.push_back(n);
  }
  if (foreign.empty() || r.allow_foreign_files) return;
  std::sort(foreign.begin(), foreign.end());
  std::string listed;
  for (size_t i = 0; i < foreign.size() && i < 3; ++i) listed += (i ? ", " : "") + foreign[i];
  if (foreign.size() > 3) listed += fmt::format(" and {} more", foreign.size() - 3);
  throw InputError(fmt::format(
      "{}: holds {} file(s) that no stepvideo run here wrote ({}): use an empty or new directory, or pass "
      "--allow-foreign-files (they are never replaced; an item whose file name is taken fails)",
      r.out.string(), foreign.size(), listed));
}

// A resumed run must make its videos the way the earlier runs of this journal did.
void refuse_other_defaults(const RunRequest& r, const std::vector<json>& records, const json& defaults) {
  for (const json& rec : records) {
    if (rec.value("event", "") != "start" || !rec.contains("defaults")) continue;
    json earlier = rec["defaults"];
    if (!earlier.contains("samples")) earlier["samples"] = 1;  // journals from before --samples-per-prompt
    if (earlier == defaults) return;
    throw ConfigError(fmt::format(
        "{}: the run here was started with other options ({}): run it with the same options to resume, or pass "
        "--new-run to start a new run in this directory (its items are made again)",
        r.out.string(), describe_differences(earlier, defaults)));
  }
}

// Finished items whose files or parameters no longer match their record are made again.
int64_t recheck(const RunRequest& r, const RunIdentity& id, const std::vector<JobItem>& items,
                JournalState& state) {
  int64_t redo = 0;
  for (const JobItem& i : items) {
    const auto it = state.finished.find(i.id);
    if (it == state.finished.end()) continue;
    const auto why = recheck_finished(r.out, it->second, item_params(i, id.codec, id.model_sha256), r.verify_outputs);
    if (!why) continue;
    log_warn("making {} (line {}) again: {}", i.id, i.line, *why);
    state.finished.erase(it);
    ++redo;
  }
  return redo;
}

// Why an item cannot run at all, or nothing: its file names are taken by
// files this run cannot call its own (nothing of anybody else's is replaced),
// or it cannot fit in memory.
std::optional<std::string> cannot_run(const RunRequest& r, const RunIdentity& id, const JobItem& i,
                                      uint64_t available) {
  for (const std::string& n : item_output_names(i.id, r.codec)) {
    if (fs::exists(r.out / n) && !owned_by(r.out, i.id, id.owner_ids)) {
      return n + " exists and was not written by this run: move it away, or give the item another id";
    }
  }
  MemoryRequest m = r.memory;
  m.size = VideoSize{i.frames, i.height, i.width};
  m.batch = r.batch_size;
  m.guided = i.cfg_scale > 1.0f;
  try {
    check_memory(estimate_memory(r.model, m), available,
                 fmt::format("a batch of {} x {}", r.batch_size, describe_size(m.size)));
  } catch (const InputError& e) {
    return e.what();
  }
  return std::nullopt;
}

std::vector<json> refuse_unrunnable(const RunRequest& r, const RunIdentity& id, std::vector<JobItem>& fresh) {
  std::vector<json> failed;
  std::vector<JobItem> keep;
  const uint64_t available = available_memory();
  for (JobItem& i : fresh) {
    if (const auto why = cannot_run(r, id, i, available)) {
      failed.push_back(json{{"event", "failed"}, {"id", i.id}, {"line", i.line}, {"reason", *why}});
    } else {
      keep.push_back(std::move(i));
    }
  }
  fresh = std::move(keep);
  return failed;
}

// This shard's items and bad lines of the manifest.
Manifest shard_manifest(const RunRequest& r) {
  Manifest all = read_manifest(r.manifest, r.defaults);
  Manifest mine;
  mine.path = all.path;
  mine.sha256 = all.sha256;
  mine.format = all.format;
  for (auto& item : all.items) {
    if (r.shard.contains(item.line)) mine.items.push_back(std::move(item));
  }
  for (auto& bad : all.bad_lines) {
    if (r.shard.contains(bad.line)) mine.bad_lines.push_back(std::move(bad));
  }
  for (const BadLine& b : mine.bad_lines) log_warn("{}:{}: bad line: {}", r.manifest.string(), b.line, b.reason);
  return mine;
}

// --new-run: the earlier run's ids (its files stay replaceable) and its journal set aside.
std::vector<std::string> start_over(const RunFiles& files) {
  std::vector<std::string> earlier;
  const json old = io::read_json_or_null(files.plan());
  if (old.is_object()) {
    if (old.contains("run_id")) earlier.push_back(old["run_id"].get<std::string>());
    for (const json& o : old.value("earlier_run_ids", json::array())) earlier.push_back(o.get<std::string>());
  }
  set_aside(files);
  return earlier;
}

// Half-written files of a killed run: only ours (other shards may be live).
void remove_leftovers(const RunRequest& r, const RunFiles& files, const Manifest& manifest) {
  std::set<std::string> ours{files.summary().filename().string(), files.plan().filename().string()};
  for (const JobItem& i : manifest.items) {
    for (const std::string& n : item_output_names(i.id, r.codec)) ours.insert(n);
    ours.insert(i.id + ".h5");
  }
  if (const int64_t n = remove_temporaries(r.out, ours)) {
    log_info("removed {} half-written file(s) left by an interrupted run", n);
  }
}

struct Work {
  std::vector<Batch> plan;  // continued batches first, then fresh ones
  int64_t continued = 0, fresh_items = 0;
  RunStats stats;
  std::vector<json> refused;  // "failed" records of items that cannot run at all
};

// The journal replayed: finished items skipped, suspended batches continued
// from their saved state (spent states removed), the rest planned in batches.
Work plan_work(const RunRequest& r, const RunFiles& files, const RunIdentity& identity, const Manifest& manifest,
               const JournalState& state) {
  Work w;
  std::set<std::string> in_suspended;
  std::map<std::string, const JobItem*> by_id;
  for (const JobItem& i : manifest.items) by_id[i.id] = &i;
  for (const json& rec : state.suspended) {
    Batch b = rec.at("batch").get<Batch>();
    bool usable = fs::exists(r.out / b.state);
    for (const JobItem& i : b.items) usable = usable && by_id.count(i.id);
    if (!usable) {
      log_warn("{}: the saved state of a preempted batch is missing or its items left the manifest; "
               "those items start over", b.state);
      continue;
    }
    b.index = static_cast<int64_t>(w.plan.size());
    for (const JobItem& i : b.items) in_suspended.insert(i.id);
    w.plan.push_back(std::move(b));
  }
  w.continued = static_cast<int64_t>(w.plan.size());
  // Saved states nobody will continue (their items finished, or a crash
  // between the record and the cleanup) are spent.
  std::set<std::string> live_states;
  for (const Batch& b : w.plan) live_states.insert(fs::path(b.state).filename().string());
  std::error_code ec;
  if (fs::is_directory(files.partial_dir())) {
    for (const auto& e : fs::directory_iterator(files.partial_dir())) {
      const std::string name = e.path().filename().string();
      const std::string id = name.size() > 3 ? name.substr(0, name.size() - 3) : "";
      if (by_id.count(id) && !live_states.count(name)) fs::remove(e.path(), ec);
    }
  }
  std::vector<JobItem> fresh;
  for (const JobItem& i : manifest.items) {
    if (state.finished.count(i.id)) {
      ++w.stats.resumed_done;
    } else if (state.failed.count(i.id) && !r.retry_failed) {
      ++w.stats.earlier_failed;
    } else if (!in_suspended.count(i.id)) {
      fresh.push_back(i);
    }
  }
  w.refused = refuse_unrunnable(r, identity, fresh);
  w.fresh_items = static_cast<int64_t>(fresh.size());
  std::vector<Batch> rest = plan_batches(fresh, r.batch_size, static_cast<int64_t>(w.plan.size()));
  w.plan.insert(w.plan.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
  w.stats.total = static_cast<int64_t>(manifest.items.size() + manifest.bad_lines.size());
  w.stats.bad_lines = static_cast<int64_t>(manifest.bad_lines.size());
  return w;
}

// The run's description, for `status` and for the next run here.
void write_plan(const RunRequest& r, const RunFiles& files, const Manifest& manifest, const RunIdentity& identity,
                const std::vector<std::string>& earlier_ids) {
  json plan{{"manifest", fs::absolute(r.manifest).string()}, {"manifest_sha256", manifest.sha256},
            {"shard_suffix", r.shard.suffix()}, {"layout", r.layout}, {"run_id", identity.run_id},
            {"earlier_run_ids", earlier_ids}, {"ids", json::array()}, {"bad_lines", json::array()}};
  for (const JobItem& i : manifest.items) plan["ids"].push_back(i.id);
  for (const BadLine& b : manifest.bad_lines) plan["bad_lines"].push_back({{"line", b.line}, {"reason", b.reason}});
  const json earlier = io::read_json_or_null(files.plan());
  if (earlier.is_object() && earlier.value("manifest_sha256", "") != manifest.sha256) {
    log_warn("{}: the manifest changed since the last run in this directory; items are matched by id",
             r.manifest.string());
  }
  write_json_atomic(files.plan(), plan);
}

}  // namespace

RunSetup open_run(const RunRequest& r) {
  RunSetup side;
  side.files = RunFiles{r.out, r.shard};
  std::error_code ec;
  fs::create_directories(r.out, ec);
  SV_CHECK_AS(InputError, fs::is_directory(r.out) && ::access(r.out.c_str(), W_OK) == 0,
              "{}: cannot create or write the output directory", r.out.string());
  side.lock = std::make_unique<RunLock>(side.files.lock());
  side.manifest = shard_manifest(r);

  const std::vector<std::string> earlier_ids = r.new_run ? start_over(side.files) : std::vector<std::string>{};
  side.identity = identify(r, side.files);
  side.identity.owner_ids.insert(earlier_ids.begin(), earlier_ids.end());
  const json defaults = run_defaults(r, side.identity.model_sha256);
  const std::vector<json> records = Journal::read(side.files.journal());
  if (records.empty()) refuse_foreign_files(r);
  refuse_other_defaults(r, records, defaults);
  remove_leftovers(r, side.files, side.manifest);

  JournalState state = replay(records);
  const int64_t redo = recheck(r, side.identity, side.manifest.items, state);
  Work w = plan_work(r, side.files, side.identity, side.manifest, state);
  write_plan(r, side.files, side.manifest, side.identity, earlier_ids);

  side.journal = std::make_unique<Journal>(side.files.journal());
  side.journal->append(json{{"event", "start"}, {"time", utc_now()}, {"pid", ::getpid()}, {"layout", r.layout},
                            {"run_id", side.identity.run_id}, {"defaults", defaults},
                            {"planned_items", w.fresh_items}, {"continued_batches", w.continued},
                            {"resumed_done", w.stats.resumed_done}, {"redone", redo}});
  for (json f : w.refused) {
    log_warn("{} (line {}) failed: {}", f["id"].get<std::string>(), f["line"].get<int64_t>(),
             f["reason"].get<std::string>());
    f["time"] = utc_now();
    side.journal->append(f);
    ++w.stats.failed;
  }
  log_info("run: {} item(s) in {} ({} bad line(s)); {} already done, {} failed earlier{}, {} batch(es) to run "
           "({} continued mid-trajectory)",
           side.manifest.items.size(), r.manifest.string(), w.stats.bad_lines, w.stats.resumed_done,
           w.stats.earlier_failed, w.stats.earlier_failed ? " (--retry-failed re-runs them)" : "", w.plan.size(),
           w.continued);
  side.coordinator = std::make_unique<Coordinator>(*side.journal, r.out, std::move(w.plan), std::move(w.stats));
  return side;
}

}  // namespace sv::jobs
