// Setting up a run on the coordinator rank, before any model loads so a bad
// manifest or a held lock fails in seconds: take the lock, read and shard the
// manifest, remove a killed run's half-written files, replay the journal
// (skip finished items, continue suspended batches from their saved state,
// drop spent states), plan the rest, describe the run for `status`, and open
// the journal and the coordinator.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "io/video_writer.h"
#include "jobs/coordinator.h"
#include "jobs/journal.h"
#include "jobs/manifest.h"
#include "jobs/run_files.h"
#include "jobs/run_lock.h"

namespace sv::jobs {

// Everything rank 0 owns as the coordinator.
struct RunSetup {
  RunFiles files;
  std::unique_ptr<RunLock> lock;
  Manifest manifest;  // this shard's items and bad lines
  std::unique_ptr<Journal> journal;
  std::unique_ptr<Coordinator> coordinator;
};

RunSetup open_run(const std::filesystem::path& out, const Shard& shard, const std::filesystem::path& manifest_path,
                  const ItemDefaults& defaults, int64_t batch_size, bool retry_failed, io::VideoCodec codec,
                  const std::string& layout);

}  // namespace sv::jobs
