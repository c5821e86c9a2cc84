// One data-parallel replica's side of a run: every rank of the replica opens
// the GenerationPipeline (every model loaded once), then runs the batches its
// leader pulls from the coordinator through it (text encode, denoise, decode;
// the leader writes the files and reports each item). Errors a replica detects outside any collective fail
// the item and the replica goes on; errors inside a collective propagate and
// end the job (DESIGN.md section 7).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "io/video_writer.h"
#include "jobs/dispatch.h"
#include "jobs/fault_injection.h"
#include "jobs/run_setup.h"
#include "parallel/parallel_groups.h"
#include "stages/generation_pipeline.h"

namespace sv::jobs {

struct WorkerOptions {
  std::filesystem::path model_dir, out_dir;
  io::VideoCodec codec = io::VideoCodec::H264;
  bool save_latents = false;
  // Seconds an item may take before it fails; 0: ten times the last batch of
  // the same computation on this replica (no limit before the first).
  double item_timeout = 0.0;
  bool offload = false;
  VaeDecodeOptions vae_decode;  // spatial tiling (off by default)
  TextEncodeOptions text;       // the suffix and negative prompt an item does not set
  // Seconds between denoising progress lines on the leader (0: every step).
  double progress_interval = 10.0;
  RunIdentity identity;  // run id for sidecars; whose files may be replaced
};

class ReplicaWorker {
 public:
  // Loads the text encoders, the DiT (sharded as `groups` says) and the VAE
  // decoder. `abort_job` ends every rank with an exit code (the watchdog's
  // last resort when a step never returns).
  ReplicaWorker(WorkerOptions options, const ParallelGroups& groups, const FaultInjector& faults,
                std::function<void(int)> abort_job);
  ~ReplicaWorker();

  // Runs batches until there are none left or the run stops. `client` is the
  // leader's line to the coordinator (nullptr on the other ranks).
  void run(CoordinatorClient* client);

  std::filesystem::path video_path(const std::string& id) const;

 private:
  struct Timer;
  struct ItemTimes {
    double text_s = 0, denoise_s = 0, decode_s = 0;  // this item's share of its batch
  };
  void run_batch(const Batch& batch, CoordinatorClient* client);
  // Sidecar, latents and video of a finished item; `record` becomes its "done" record.
  void write_item(const JobItem& item, const Batch& batch, const Tensor& rgb, const Tensor& z, const ItemTimes& times,
                  const DenoiseOptions& denoise, nlohmann::json& record) const;
  void fail(CoordinatorClient* client, const JobItem& item, const std::string& reason) const;
  double batch_limit(const Batch& batch) const;
  void watch();

  WorkerOptions options_;
  const ParallelGroups& groups_;
  const FaultInjector& faults_;
  std::function<void(int)> abort_job_;
  bool leader_;
  int replica_;
  GenerationPipeline pipeline_;  // every model, loaded once
  std::map<std::string, double> seconds_per_item_;  // by computation, for the automatic timeout

  // Watchdog (leader only): the batch in flight and when it started.
  std::mutex watch_mutex_;
  const Batch* current_ = nullptr;
  CoordinatorClient* current_client_ = nullptr;
  std::chrono::steady_clock::time_point current_start_;
  double current_limit_ = 0.0;
  std::atomic<bool> quit_{false};
  std::thread watchdog_;
};

}  // namespace sv::jobs
