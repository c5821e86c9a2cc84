#include "jobs/replica_worker.h"

#include <cmath>

#include "cli/exit_codes.h"
#include "core/elapsed.h"
#include "core/log.h"
#include "io/hdf5_tensors.h"
#include "jobs/planner.h"
#include "jobs/run_outputs.h"
#include "core/stop_signal.h"
#include "parallel/agreement.h"
#include "stages/step_progress.h"

namespace sv::jobs {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

PromptItem prompt_of(const JobItem& item) { return {item.prompt, item.positive_suffix, item.negative_prompt}; }

// Runs `f` and turns an sv::Error into its message: an item-level failure.
template <typename F>
std::optional<std::string> item_error(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

// The same, with the world rank in the message, for errors the replica's
// ranks agree on (any of them may be the one that saw it).
template <typename F>
std::optional<std::string> rank_error(int world_rank, F&& f) {
  auto e = item_error(std::forward<F>(f));
  if (e) e = fmt::format("on rank {}: {}", world_rank, *e);
  return e;
}

}  // namespace

ReplicaWorker::ReplicaWorker(WorkerOptions options, const ParallelGroups& groups, const FaultInjector& faults,
                             std::function<void(int)> abort_job)
    : options_(std::move(options)),
      groups_(groups),
      faults_(faults),
      abort_job_(std::move(abort_job)),
      leader_(groups.replica->rank() == 0),
      replica_(groups.coords.dp),
      // Many videos: every model stays loaded for the whole run.
      pipeline_(PipelineOptions{.model_dir = options_.model_dir,
                                .residency = ModelResidency::KeepAll,
                                .offload = options_.offload,
                                .vae_decode = options_.vae_decode,
                                .text = options_.text},
                groups) {
  // Ranks load at different speeds: the first batch's clock (--item-timeout)
  // must not count a peer's loading.
  groups_.replica->barrier();
  if (leader_) {
    double load_s = 0.0;
    for (const auto& [stage, seconds] : pipeline_.load_timings().items()) load_s += seconds.get<double>();
    log_info("replica {}: models loaded in {:.1f} s ({})", replica_, load_s, groups_.describe());
    watchdog_ = std::thread([this] { watch(); });
  }
}

ReplicaWorker::~ReplicaWorker() {
  quit_ = true;
  if (watchdog_.joinable()) watchdog_.join();
}

fs::path ReplicaWorker::video_path(const std::string& id) const {
  return options_.out_dir / (id + (options_.codec == io::VideoCodec::FFV1 ? ".mkv" : ".mp4"));
}

void ReplicaWorker::fail(CoordinatorClient* client, const JobItem& item, const std::string& reason) const {
  if (!leader_) return;
  // Nothing of a failed item may look complete; but a file this run cannot
  // call its own (no sidecar of ours) is somebody else's and stays.
  if (owned_by(options_.out_dir, item.id, options_.identity.owner_ids)) {
    std::error_code ec;
    const fs::path video = video_path(item.id);
    for (const fs::path& p : {video, options_.out_dir / (item.id + ".latents.h5"), sidecar_path(video)}) {
      fs::remove(p, ec);  // the sidecar, which proves ownership, last
    }
  }
  client->report(json{{"event", "failed"}, {"id", item.id}, {"line", item.line}, {"reason", reason},
                      {"replica", replica_}, {"rank", groups_.world_rank}});
}

double ReplicaWorker::batch_limit(const Batch& batch) const {
  const auto n = static_cast<double>(batch.items.size());
  if (options_.item_timeout > 0) return options_.item_timeout * n;
  const auto it = seconds_per_item_.find(computation_key(batch.items.front()));
  if (it == seconds_per_item_.end()) return 0.0;
  return std::max(60.0, 10.0 * it->second) * n;
}

void ReplicaWorker::watch() {
  // A step that never returns (a peer stuck in a collective, a hung device)
  // cannot be failed cleanly: record the items as failed and end the job, so
  // the next run skips them instead of hanging again.
  while (!quit_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::lock_guard lock(watch_mutex_);
    if (!current_ || current_limit_ <= 0) continue;
    const double elapsed = seconds_since(current_start_);
    if (elapsed < 2.0 * current_limit_ + 5.0) continue;
    const std::string reason = fmt::format(
        "hung: no progress for {:.0f} s (limit {:.0f} s, --item-timeout); the job was ended", elapsed,
        current_limit_);
    log_line(LogLevel::Error, fmt::format("replica {}: batch {} {}", replica_, current_->index, reason));
    try {
      for (const JobItem& item : current_->items) {
        current_client_->report(json{{"event", "failed"}, {"id", item.id}, {"line", item.line},
                                     {"reason", reason}, {"replica", replica_}, {"rank", groups_.world_rank}});
      }
    } catch (const std::exception& e) {
      log_line(LogLevel::Error, std::string("watchdog could not record the failure: ") + e.what());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the records reach the journal
    abort_job_(cli::kExitComm);
  }
}

void ReplicaWorker::run(CoordinatorClient* client) {
  for (;;) {
    std::string text;
    if (leader_) {
      std::optional<Batch> batch = client->next_batch();
      text = batch ? json(*batch).dump() : std::string();
    }
    text = broadcast_string(*groups_.replica, std::move(text), 0);
    if (text.empty()) return;
    const Batch batch = json::parse(text).get<Batch>();
    run_batch(batch, client);
  }
}

void ReplicaWorker::write_item(const JobItem& item, const Batch& batch, const Tensor& rgb, const Tensor& z,
                               const ItemTimes& times, const DenoiseOptions& denoise, json& record) const {
  const fs::path video = video_path(item.id);
  // Never over a file this run cannot call its own.
  const std::vector<std::string> names = item_output_names(item.id, options_.codec);
  if (!owned_by(options_.out_dir, item.id, options_.identity.owner_ids)) {
    for (const std::string& n : names) {
      SV_CHECK_AS(InputError, !fs::exists(options_.out_dir / n),
                  "{} exists and was not written by this run: move it away, or give the item another id", n);
    }
  }
  const auto t_write = Clock::now();
  nlohmann::ordered_json timings;
  timings["text_encode_s"] = times.text_s;
  timings["denoise_s"] = times.denoise_s;
  timings["vae_decode_s"] = times.decode_s;
  // The batch's sampling is every item's (one computation per batch).
  VideoSidecar sidecar = pipeline_.describe(video, prompt_of(item), item.seed, rgb.shape(), item.fps, denoise);
  sidecar.leading["id"] = item.id;
  sidecar.leading["run_id"] = options_.identity.run_id;
  sidecar.leading["manifest_line"] = item.line;
  if (item.samples > 1) {
    // Candidates of one prompt, for preference pairs (`label`, encode-dataset's pairs).
    sidecar.leading["candidate"] = {{"of", item.of}, {"sample", item.sample}, {"samples", item.samples}};
  }
  if (!batch.state.empty()) sidecar.details["continued_from_step"] = batch.first_step;
  sidecar.details["replica"] = replica_;
  sidecar.details["replica_leader_rank"] = groups_.world_rank;
  sidecar.details["batch"] = {{"index", batch.index}, {"size", static_cast<int64_t>(batch.items.size())}};
  sidecar.timings = timings;
  // The sidecar first: it marks the item's files as this run's, so a crash
  // while the video is written leaves nothing the next run may not replace.
  write_json_atomic(sidecar_path(video), sidecar_json(sidecar));
  if (options_.save_latents) io::write_hdf5(options_.out_dir / (item.id + ".latents.h5"), {{"latents", z}});
  io::write_video(video, rgb, {.fps = static_cast<int>(item.fps), .codec = options_.codec});
  timings["write_s"] = seconds_since(t_write);
  const double seconds = times.text_s + times.denoise_s + times.decode_s + timings["write_s"].get<double>();
  record = json{{"event", "done"},
                {"id", item.id},
                {"line", item.line},
                {"video", video.filename().string()},
                {"replica", replica_},
                {"rank", groups_.world_rank},
                {"seconds", seconds},
                {"timings", timings},
                {"params", item_params(item, options_.codec, options_.identity.model_sha256)},
                {"files", describe_files(options_.out_dir, names)}};
}

void ReplicaWorker::run_batch(const Batch& batch, CoordinatorClient* client) {
  const auto t_batch = Clock::now();
  const JobItem& first = batch.items.front();
  const int64_t n_all = static_cast<int64_t>(batch.items.size());
  log_info("replica {}: batch {} ({} item(s), {} frames {}x{}, {} steps{})", replica_, batch.index, n_all,
           first.frames, first.width, first.height, first.steps,
           batch.state.empty() ? "" : fmt::format(", continuing at step {}", batch.first_step + 1));
  if (leader_) {
    std::lock_guard lock(watch_mutex_);
    current_ = &batch;
    current_client_ = client;
    current_start_ = t_batch;
    current_limit_ = batch_limit(batch);
  }
  struct Unwatch {
    ReplicaWorker& w;
    ~Unwatch() {
      std::lock_guard lock(w.watch_mutex_);
      w.current_ = nullptr;
    }
  } unwatch{*this};

  // 1. Text, item by item: an item's conditioning never depends on its batch,
  // and a prompt the encoders reject fails only that item.
  std::vector<size_t> alive;  // indices into batch.items
  std::vector<TextConditioning> encoded;
  for (size_t i = 0; i < batch.items.size(); ++i) {
    const JobItem& item = batch.items[i];
    TextConditioning enc;
    const auto local = rank_error(groups_.world_rank, [&] {
      faults_.maybe_throw("tokenize", item.id);
      enc = pipeline_.encode_text(prompt_of(item));
    });
    if (const auto error = agree_on_error(*groups_.replica, local)) {
      fail(client, item, "text encoding: " + *error);
      continue;
    }
    alive.push_back(i);
    encoded.push_back(std::move(enc));
  }
  if (alive.empty()) return;
  const double text_s = seconds_since(t_batch);
  const auto n = static_cast<int64_t>(alive.size());
  const DitConditioning cond = batch_conditioning(encoded, first.cfg_scale > 1.0f);
  encoded.clear();

  // 2. Initial latents: each item's own noise (independent of the batch), or
  // the trajectory a preempted run saved.
  const VideoSize size{first.frames, first.height, first.width};
  Tensor latents;
  if (!batch.state.empty()) {
    const Shape one = pipeline_.latent_shape(size);
    const Tensor saved = io::read_hdf5(options_.out_dir / batch.state, "latents");
    SV_CHECK_AS(InputError, saved.rank() == 5 && saved.dim(0) == n_all && saved.dim(1) == one[1] &&
                                saved.dim(2) == one[2] && saved.dim(3) == one[3] && saved.dim(4) == one[4],
                "{}: saved latents are {}, the batch needs {} x {}", batch.state, saved.describe(), n_all,
                one.str());
    latents = Tensor::empty(Shape{n, one[1], one[2], one[3], one[4]}, DType::F32);
    for (int64_t k = 0; k < n; ++k) {
      const auto row = static_cast<int64_t>(alive[static_cast<size_t>(k)]);
      latents.slice(0, k, k + 1).copy_from(saved.slice(0, row, row + 1));
    }
  } else {
    std::vector<int64_t> seeds;
    for (size_t k : alive) seeds.push_back(batch.items[k].seed);
    latents = pipeline_.noise(size, seeds);
  }

  // 3. Denoise. After every step the replica agrees whether to stop
  // (preemption) or give up (item timeout): one tiny all-reduce per step.
  DenoiseOptions denoise;
  denoise.steps = first.steps;
  denoise.cfg_scale = first.cfg_scale;
  denoise.time_shift = first.time_shift;
  denoise.first_step = batch.first_step;
  bool stopped = false, timed_out = false;
  int64_t next_step = batch.first_step;
  const double limit = batch_limit(batch);
  const auto t_denoise = Clock::now();
  StepProgress progress(options_.progress_interval, fmt::format("replica {}: batch {}", replica_, batch.index),
                        {log_field("replica", int64_t{replica_}), log_field("batch", batch.index),
                         log_field("first_id", first.id)});
  const Tensor denoised = pipeline_.denoise(
      latents, cond, denoise, [&](int64_t step, int64_t steps, const Tensor&) {
        for (size_t k : alive) faults_.at_step(batch.items[k].id, step);
        float flags[2] = {0.0f, 0.0f};
        flags[0] = (leader_ ? client->stop_requested() : stop_requested()) ? 1.0f : 0.0f;
        flags[1] = leader_ && limit > 0 && seconds_since(t_batch) > limit ? 1.0f : 0.0f;
        groups_.replica->all_reduce_sum(flags, 2);
        next_step = step + 1;
        if (leader_) progress.step(step, steps);
        if (flags[1] > 0) timed_out = true;
        else if (flags[0] > 0 && step + 1 < steps) stopped = true;
        return !(timed_out || stopped);
      });
  const double denoise_s = seconds_since(t_denoise);

  if (timed_out) {
    for (size_t k : alive) {
      fail(client, batch.items[k],
           fmt::format("timed out after {:.1f} s at step {}/{} (limit {:.1f} s; --item-timeout)",
                       seconds_since(t_batch), next_step, first.steps, limit));
    }
    return;
  }
  if (stopped) {
    if (!leader_) return;
    Batch rest;
    rest.index = batch.index;
    for (size_t k : alive) rest.items.push_back(batch.items[k]);
    rest.first_step = next_step;
    rest.state = ".partial/" + rest.items.front().id + ".h5";
    fs::create_directories(options_.out_dir / ".partial");
    io::write_hdf5(options_.out_dir / rest.state, {{"latents", denoised}});
    client->report(json{{"event", "suspended"}, {"batch", rest}, {"state", rest.state}, {"step", next_step},
                        {"steps", first.steps}, {"replica", replica_}});
    return;
  }
  seconds_per_item_[computation_key(first)] = seconds_since(t_batch) / static_cast<double>(n);

  // 4. Per item: decode over the replica's ranks, then the leader writes.
  for (int64_t k = 0; k < n; ++k) {
    const JobItem& item = batch.items[alive[static_cast<size_t>(k)]];
    const auto t_item = Clock::now();
    const Tensor z = denoised.slice(0, k, k + 1).contiguous();
    const auto local = rank_error(groups_.world_rank, [&] {
      faults_.maybe_throw("decode", item.id);
      check_denoised_latents(z);
    });
    if (const auto error = agree_on_error(*groups_.replica, local)) {
      fail(client, item, "decode: " + *error);
      continue;
    }
    Tensor rgb;
    try {
      rgb = pipeline_.decode(z);
    } catch (const NonFiniteFrames& e) {  // the leader's, after all communication: this item only
      fail(client, item, std::string("decode: ") + e.what());
      continue;
    }
    const double decode_s = seconds_since(t_item);
    if (!leader_) continue;
    json record;
    const auto error = item_error([&] {
      faults_.maybe_throw("write", item.id);
      write_item(item, batch, rgb, z, ItemTimes{text_s / static_cast<double>(n), denoise_s / static_cast<double>(n), decode_s}, denoise, record);
    });
    if (error) {
      fail(client, item, "write: " + *error);
    } else {
      client->report(record);
    }
  }
}

}  // namespace sv::jobs
