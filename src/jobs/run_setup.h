// Setting up a run on the coordinator rank, before any model loads so a bad
// manifest or a held lock fails in seconds: take the lock, read and shard the
// manifest, refuse a directory holding other people's files or a run made
// with other options, remove a killed run's half-written files, replay the
// journal (skip finished items whose files still match their record, redo the
// others, continue suspended batches from their saved state, drop spent
// states), plan the rest, describe the run for `status`, and open the journal
// and the coordinator.
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "io/video_writer.h"
#include "jobs/coordinator.h"
#include "jobs/journal.h"
#include "jobs/manifest.h"
#include "jobs/run_files.h"
#include "jobs/run_lock.h"
#include "stages/memory_estimate.h"

namespace sv::jobs {

// What `stepvideo run` was asked for.
struct RunRequest {
  std::filesystem::path out, manifest, model;
  Shard shard;
  ItemDefaults defaults;
  int64_t batch_size = 1;
  bool retry_failed = false;
  io::VideoCodec codec = io::VideoCodec::H264;
  std::string layout;
  // A new run into a directory holding other files (never replaced).
  bool allow_foreign_files = false;
  // Start over in a directory whose run was made with other options: its
  // journal is kept aside and its items are made again.
  bool new_run = false;
  // Check finished items' files by SHA-256 too, not only by size.
  bool verify_outputs = false;
  // How the replicas hold the models (sizes filled in per item): an item that
  // cannot fit in memory fails before any model loads.
  MemoryRequest memory;
};

// Who this run is, for sidecars and for telling its files from anybody else's.
struct RunIdentity {
  std::string run_id;
  std::set<std::string> owner_ids;  // this run's id and every earlier run's in the directory
  std::string model_sha256;
  io::VideoCodec codec = io::VideoCodec::H264;
};
void to_json(nlohmann::json& j, const RunIdentity& identity);
void from_json(const nlohmann::json& j, RunIdentity& identity);

// Everything rank 0 owns as the coordinator.
struct RunSetup {
  RunFiles files;
  std::unique_ptr<RunLock> lock;
  Manifest manifest;  // this shard's items and bad lines
  RunIdentity identity;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<Coordinator> coordinator;
};

RunSetup open_run(const RunRequest& request);

}  // namespace sv::jobs
