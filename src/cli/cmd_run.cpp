// stepvideo run: a manifest of prompts -> videos on shared storage, with every
// rank of the job (DESIGN.md section 6). World rank 0 runs the coordinator
// (plan, journal, progress; a thread beside its own worker); every replica
// pulls batches from it. Resumable, preemptible, one live run per --out.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "cli/sampling_presets.h"
#include "core/elapsed.h"
#include "core/log.h"
#include "jobs/coordinator.h"
#include "jobs/dispatch.h"
#include "jobs/fault_injection.h"
#include "jobs/journal.h"
#include "jobs/manifest.h"
#include "jobs/replica_worker.h"
#include "jobs/run_files.h"
#include "jobs/run_lock.h"
#include "jobs/run_setup.h"
#include "jobs/run_status.h"
#include "core/stop_signal.h"
#include "jobs/summary.h"
#include "models/dit/dit_config.h"
#include "models/model_directory.h"
#include "parallel/agreement.h"
#include "parallel/mpi_groups.h"
#include "stages/generation_request.h"
#include "stages/write_stage.h"

namespace sv::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// --dry-run: what the run would do, without models or output.
int dry_run(const fs::path& manifest_path, const jobs::ItemDefaults& defaults, const jobs::Shard& shard,
            int64_t batch_size) {
  const jobs::Manifest m = jobs::read_manifest(manifest_path, defaults);
  std::vector<jobs::JobItem> items;
  int64_t bad = 0;
  for (const jobs::JobItem& i : m.items) {
    if (shard.contains(i.line)) items.push_back(i);
  }
  for (const jobs::BadLine& b : m.bad_lines) {
    if (!shard.contains(b.line)) continue;
    ++bad;
    std::cout << manifest_path.string() << ":" << b.line << ": bad line: " << b.reason << "\n";
  }
  const std::vector<jobs::Batch> plan = jobs::plan_batches(items, batch_size);
  std::map<std::string, int64_t> shapes;
  for (const jobs::JobItem& i : items) {
    ++shapes[fmt::format("{} frames {}x{} (w x h), {} steps, cfg {}, shift {}", i.frames, i.width, i.height,
                         i.steps, i.cfg_scale, i.time_shift)];
  }
  std::cout << fmt::format("{}: {} {} item(s), {} bad line(s), {} batch(es) of up to {}\n", manifest_path.string(),
                           items.size(), m.format == jobs::ManifestFormat::Jsonl ? "JSONL" : "plain-text", bad,
                           plan.size(), batch_size);
  for (const auto& [shape, n] : shapes) std::cout << fmt::format("  {:>6} x {}\n", n, shape);
  return bad > 0 ? kExitItemsFailed : kExitOk;
}

void record_failed_stop(jobs::Journal& journal, const std::string& reason, int code) {
  try {
    journal.append(json{{"event", "stop"}, {"time", jobs::utc_now()}, {"status", "failed"}, {"reason", reason},
                        {"exit_code", code}});
  } catch (const std::exception&) {
    // The journal itself may be what failed; the error still reaches the user.
  }
}

std::string signal_description(int sig) {
  switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGINT: return "SIGINT";
  }
  return "signal " + std::to_string(sig);
}

}  // namespace

int cmd_run(const Args& args, const Context& context) {
  std::string model, manifest, out, layout_text, preset_name = "stepvideo-t2v", codec_name = "h264",
                                                 shard_text = "0/1";
  int64_t batch_size = 1;
  double item_timeout = 0.0;
  jobs::ItemDefaults defaults;
  po::options_description opts(
      "stepvideo run --model DIR --manifest FILE --out DIR [options]\n\n"
      "Generates every item of a manifest (JSONL or plain text, one prompt per line) into\n"
      "DIR/<id>.mp4 + <id>.json, with a journal that makes the run resumable: run the same\n"
      "command again to continue. Under mpirun/srun every rank works; dp = world / (tp*sp*pp*cfg)\n"
      "replicas pull batches from rank 0. Exit: 0 all done, 9 some items failed, 75 preempted\n"
      "(SIGTERM/SIGUSR1: state saved, run again to continue)");
  opts.add_options()("model", po::value(&model)->required(), "model directory (release layout)")(
      "manifest", po::value(&manifest)->required(), "prompts: .jsonl (DESIGN.md fields) or text, one per line")(
      "out", po::value(&out)->required(), "output directory (created; resumed when it holds a journal)")(
      "layout", po::value(&layout_text)->default_value(""),
      "tp=T,sp=S,pp=P,cfg=C per replica [,dp=D: the replicas, must be world/(tp*sp*pp*cfg)]")(
      "batch-size", po::value(&batch_size)->default_value(batch_size), "items per batch (same size/steps/guidance)")(
      "preset", po::value(&preset_name)->default_value(preset_name), "sampling defaults: stepvideo-t2v or turbo")(
      "frames", po::value(&defaults.frames)->default_value(defaults.frames), "default frames per item")(
      "height", po::value(&defaults.height)->default_value(defaults.height), "default height")(
      "width", po::value(&defaults.width)->default_value(defaults.width), "default width")(
      "steps", po::value<int64_t>(), "default denoising steps (default: preset)")(
      "cfg-scale", po::value<float>(), "default guidance scale (default: preset)")(
      "time-shift", po::value<float>(), "default schedule shift (default: preset)")(
      "seed", po::value(&defaults.seed)->default_value(defaults.seed), "default seed (items may set their own)")(
      "samples-per-prompt", po::value(&defaults.samples)->default_value(defaults.samples),
      "candidates per prompt (items may set \"samples\"): N > 1 makes <id>-s0 .. <id>-s<N-1>, seeds derived\n"
      "from the item's seed, for preference pairs")(
      "fps", po::value(&defaults.fps)->default_value(defaults.fps), "default frames per second of the files")(
      "codec", po::value(&codec_name)->default_value(codec_name), "h264 (<id>.mp4) or ffv1 (<id>.mkv, lossless)")(
      "save-latents", po::bool_switch(), "also write <id>.latents.h5 (denoised latents)")(
      "retry-failed", po::bool_switch(), "run items the journal records as failed again")(
      "item-timeout", po::value(&item_timeout)->default_value(0.0),
      "seconds an item may take before it fails; 0: ten times the last batch of its kind (>= 60 s)")(
      "shard", po::value(&shard_text)->default_value(shard_text),
      "K/N: only manifest lines with (line-1) % N == K (job arrays; one output tree)")(
      "offload", po::bool_switch(), "low memory: keep the DiT's bf16 weights mapped, widen per layer")(
      "allow-foreign-files", po::bool_switch(),
      "start a run in a directory that holds other files (never replaced: an item whose file name is taken fails)")(
      "new-run", po::bool_switch(),
      "start a new run where one made with other options was: its journal is kept aside, its items made again")(
      "verify-outputs", po::bool_switch(), "on resume, check finished items' files by SHA-256, not only by size")(
      "dry-run", po::bool_switch(), "validate the manifest and print the plan; load no model, write nothing")(
      "progress-interval", po::value<double>()->default_value(10.0),
      "seconds between denoising progress lines of a batch on its replica's leader (0: every step)");
  jobs::WorkerOptions wopts;
  add_vae_tiling_options(opts, wopts.vae_decode.tiling);
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  const po::variables_map& vm = parsed.vm;
  wopts.vae_decode.tiling.validate();
  // The command line, then the model's own defaults (sampling.json), then the preset; lines may override.
  const SamplingDefaults sampling = resolve_sampling_defaults(vm, ModelSampling::read(model));
  defaults.steps = sampling.steps;
  defaults.cfg_scale = sampling.cfg_scale;
  defaults.time_shift = sampling.time_shift;
  defaults.frames = sampling.frames, defaults.height = sampling.height, defaults.width = sampling.width;
  defaults.fps = sampling.fps;
  wopts.text = sampling.text;
  validate_request_options(SamplingRequest{.frames = defaults.frames, .height = defaults.height, .width = defaults.width,
                                   .steps = defaults.steps, .cfg_scale = defaults.cfg_scale,
                                   .time_shift = defaults.time_shift, .seed = defaults.seed, .fps = defaults.fps});
  if (batch_size < 1 || batch_size > RequestLimits::kMaxBatch) {
    throw po::error(fmt::format("--batch-size must be between 1 and {}, got {}", RequestLimits::kMaxBatch, batch_size));
  }
  if (const double p = vm["progress-interval"].as<double>(); !std::isfinite(p) || p < 0) {
    throw po::error("--progress-interval must be a finite number of seconds, not negative");
  }
  if (!std::isfinite(item_timeout) || item_timeout < 0) {
    throw po::error("--item-timeout must be a finite number of seconds, not negative");
  }
  if (codec_name != "h264" && codec_name != "ffv1") throw po::error("--codec must be h264 or ffv1");
  const io::VideoCodec codec = codec_name == "ffv1" ? io::VideoCodec::FFV1 : io::VideoCodec::H264;
  const jobs::Shard shard = as_usage_error([&] { return jobs::Shard::parse(shard_text); });
  const Layout layout = parse_layout_option(layout_text, context.mpi.world_size());
  if (vm["dry-run"].as<bool>()) return dry_run(manifest, defaults, shard, batch_size);
  check_model_directory(model);

  const MpiRuntime& mpi = context.mpi;
  const DitConfig dit_config = DitConfig::from_file(fs::path(model) / "transformer" / "config.json");
  const ParallelGroups groups = make_parallel_groups(mpi, layout, dit_config.num_attention_heads,
                                                     dit_config.num_layers);
  const jobs::FaultInjector faults(groups.world_rank);
  std::unique_ptr<MessageChannel> channel;
  if (mpi.active() && groups.world_size > 1) channel = make_mpi_message_channel(mpi);

  const auto t_start = std::chrono::steady_clock::now();
  const bool coordinator_rank = groups.world_rank == 0;
  const bool leader = groups.replica->rank() == 0;
  std::optional<jobs::RunSetup> side;
  std::unique_ptr<jobs::DispatchServer> server;
  int has_work = 0;
  std::string identity_text;
  if (coordinator_rank) {
    side = jobs::open_run(jobs::RunRequest{.out = out, .manifest = manifest, .model = model, .shard = shard,
                                           .defaults = defaults, .batch_size = batch_size,
                                           .retry_failed = vm["retry-failed"].as<bool>(), .codec = codec,
                                           .layout = groups.layout.str(),
                                           .allow_foreign_files = vm["allow-foreign-files"].as<bool>(),
                                           .new_run = vm["new-run"].as<bool>(),
                                           .verify_outputs = vm["verify-outputs"].as<bool>(),
                                           .memory = MemoryRequest{.size = VideoSize{}, .batch = batch_size,
                                                                   .guided = true, .all_models_loaded = true,
                                                                   .offload = vm["offload"].as<bool>(),
                                                                   .model_shards = layout.tp * layout.pp,
                                                                   .sequence_shards = layout.sp,
                                                                   .vae_tile = wopts.vae_decode.tiling.tile}});
    has_work = side->coordinator->has_work() ? 1 : 0;
    identity_text = json(side->identity).dump();
  }
  // Every replica leader names its files after this run and tells its own from others'.
  identity_text = broadcast_string(*groups.world, std::move(identity_text), 0);
  wopts.identity = json::parse(identity_text).get<jobs::RunIdentity>();
  // Nothing left to do (a finished run started again): no model is loaded.
  if (groups.world_size > 1) groups.world->broadcast_bytes(&has_work, sizeof has_work, 0);
  if (coordinator_rank && has_work) {
    std::set<int> remote_leaders;
    for (int d = 1; d < groups.dp_size; ++d) {
      RankCoords c;
      c.dp = d;
      remote_leaders.insert(rank_of(groups.layout, groups.world_size, c));
    }
    if (!remote_leaders.empty()) {
      server = std::make_unique<jobs::DispatchServer>(*side->coordinator, *channel, remote_leaders);
    }
  }

  wopts.model_dir = model;
  wopts.out_dir = out;
  wopts.codec = codec;
  wopts.save_latents = vm["save-latents"].as<bool>();
  wopts.item_timeout = item_timeout;
  wopts.offload = vm["offload"].as<bool>();
  wopts.progress_interval = vm["progress-interval"].as<double>();
  if (has_work) {
    // An error that ends the run is recorded, so `status` can say why it stopped.
    try {
      jobs::ReplicaWorker worker(wopts, groups, faults, [&mpi](int code) { mpi.abort(code); });
      std::unique_ptr<jobs::CoordinatorClient> client;
      if (coordinator_rank) {
        client = std::make_unique<jobs::LocalClient>(*side->coordinator, groups.coords.dp);
      } else if (leader) {
        client = std::make_unique<jobs::RemoteClient>(*channel, groups.coords.dp);
      }
      worker.run(client.get());
    } catch (const Error& e) {
      if (coordinator_rank) record_failed_stop(*side->journal, e.what(), exit_code_for(e.kind()));
      throw;
    } catch (const std::exception& e) {
      if (coordinator_rank) record_failed_stop(*side->journal, std::string("internal error: ") + e.what(), kExitInternal);
      throw;
    }
  }

  int code = kExitOk;
  if (coordinator_rank) {
    if (server) server->join();
    jobs::Coordinator& c = *side->coordinator;
    const jobs::RunStats stats = c.stats();
    const jobs::JournalState state = jobs::replay(jobs::Journal::read(side->files.journal()));
    int64_t unfinished = 0, failed = 0;
    for (const jobs::JobItem& i : side->manifest.items) {
      if (state.failed.count(i.id)) ++failed;
      else if (!state.finished.count(i.id)) ++unfinished;
    }
    failed += static_cast<int64_t>(side->manifest.bad_lines.size());
    std::string status = "complete";
    if (unfinished > 0 && c.storage_full()) {
      // Every write failed for lack of space: the rest would only fail too.
      code = kExitInput;
      status = "stopped: output storage full";
    } else if (unfinished > 0) {
      // Otherwise only a stop (preemption) leaves items unfinished.
      code = kExitPreempted;
      status = "preempted";
    } else if (failed > 0) {
      code = kExitItemsFailed;
      status = "complete with failures";
    }
    const double wall = seconds_since(t_start);
    const jobs::RunDescription desc{fs::absolute(manifest).string(), groups.layout.str(), groups.world_size,
                                    groups.dp_size, shard};
    const auto summary = jobs::build_summary(desc, side->manifest.items, side->manifest.bad_lines, state, stats,
                                             wall, status, code);
    write_json_atomic(side->files.summary(), summary);
    json stop{{"event", "stop"}, {"time", jobs::utc_now()}, {"status", status}, {"exit_code", code}};
    if (code == kExitPreempted && stop_signal_number() != 0) stop["reason"] = signal_description(stop_signal_number());
    side->journal->append(stop);
    std::cout << jobs::format_summary(summary);
    if (code == kExitPreempted) {
      std::cout << "  stopped for preemption: run the same command again to continue (exit " << code << ")\n";
    }
    std::cout << "  videos and sidecars in " << fs::absolute(out).string() << "\n";
    std::cout.flush();
  }
  if (groups.world_size > 1) groups.world->broadcast_bytes(&code, sizeof code, 0);
  return code;
}

int cmd_status(const Args& args, const Context&) {
  std::string out;
  po::options_description opts(
      "stepvideo status --out DIR [--json]\n\n"
      "Progress of the run(s) in an output directory, read from the journal; never\n"
      "touches a live run. Exit: 0 complete or running, 9 complete with failed items or\n"
      "bad lines, 75 preempted (run again to continue), 1 failed or crashed");
  opts.add_options()("out", po::value(&out)->required(), "the run's output directory")(
      "json", po::bool_switch(), "print the same facts as one JSON object");
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  const std::vector<jobs::ShardStatus> shards = jobs::read_run_status(out);
  if (parsed.vm["json"].as<bool>()) {
    std::cout << jobs::status_json(shards).dump(2) << "\n";
  } else {
    std::cout << jobs::format_status(shards);
  }
  return jobs::status_exit_code(shards);
}

}  // namespace sv::cli
