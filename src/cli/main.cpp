// The stepvideo executable: dispatches to a subcommand and turns errors into
// one line on stderr and a documented exit code.
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <boost/program_options/errors.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/error.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/version.h"
#include "core/stop_signal.h"
#include "parallel/mpi_communicator.h"

// The stop signals are blocked before anything else in the process runs:
// .preinit_array functions of the executable run before the initialisers of
// every shared library (MPI, oneDNN, libav...), so no thread any of them starts
// can take a stop signal asynchronously, and a signal that arrives while the
// process starts up waits (core/stop_signal.h).
extern "C" {
static void block_stop_signals_at_start(int, char**, char**) { sv::block_stop_signals(); }
__attribute__((section(".preinit_array"), used)) static void (*const preinit_block_stop_signals)(
    int, char**, char**) = &block_stop_signals_at_start;
}

namespace {

// Commands that stop cleanly on SIGTERM/SIGUSR1/SIGINT (save, exit 75); for
// the others the signals keep their usual meaning.
bool handles_stop_signals(std::string_view command) { return command == "run" || command == "train" || command == "encode-dataset"; }

struct Subcommand {
  std::string_view name;
  int (*run)(const sv::cli::Args&, const sv::cli::Context&);
  std::string_view summary;
};

constexpr Subcommand kSubcommands[] = {
    {"run", sv::cli::cmd_run, "a manifest of prompts to videos: resumable, preemptible, all ranks"},
    {"status", sv::cli::cmd_status, "progress of a run, from its output directory's journal"},
    {"generate", sv::cli::cmd_generate, "one prompt to one video (MP4 + sidecar JSON)"},
    {"decode", sv::cli::cmd_decode, "latents (.safetensors/.h5) to a video with the Video-VAE"},
    {"encode", sv::cli::cmd_encode, "a video to Video-VAE latents (mean, logvar, seeded sample)"},
    {"inspect", sv::cli::cmd_inspect, "list the tensors of a weight file or model directory"},
    {"verify", sv::cli::cmd_verify, "run reference fixture cases and compare with tolerances"},
    {"bench", sv::cli::cmd_bench, "benchmark a component (bench dit ...)"},
    {"encode-text", sv::cli::cmd_encode_text, "tokenize and encode a prompt with both text encoders"},
    {"encode-dataset", sv::cli::cmd_encode_dataset, "videos/images + captions to a training dataset (latents, text)"},
    {"train", sv::cli::cmd_train, "train the DiT on an encoded dataset, or the Video-VAE (--component vae); resumable"},
    {"export", sv::cli::cmd_export, "a training checkpoint to a release-layout model directory"},
    {"average-checkpoints", sv::cli::cmd_average_checkpoints,
     "the mean weights of several training checkpoints as a model directory"},
    {"make-dataset", sv::cli::cmd_make_dataset,
     "write a synthetic training set (make-dataset shapes: the default model's world)"},
    {"eval", sv::cli::cmd_eval, "prompt adherence of a shapes-world model on held-out captions (eval shapes)"},
    {"label", sv::cli::cmd_label, "judge pairs of candidate videos on a local web page (for Video-DPO)"},
    {"init-model", sv::cli::cmd_init_model, "write a model directory from a preset (init-model --preset tiny)"},
};

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: stepvideo <command> [options]   (stepvideo <command> --help)\n\n");
  for (const auto& c : kSubcommands) {
    std::fprintf(out, "  %-12.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
}

}  // namespace

int main(int argc, char** argv) {
  sv::keep_freed_memory_mapped();
  if (argc < 2) {
    print_usage(stderr);
    return sv::cli::kExitUsage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return sv::cli::kExitOk;
  }
  if (name == "--version") {
    std::printf("stepvideo %s (%s)\n", sv::version(), sv::git_describe());
    return sv::cli::kExitOk;
  }
  const sv::cli::Args args(argv + 2, argv + argc);
  for (const auto& c : kSubcommands) {
    if (c.name != name) continue;
    // A job can be preempted from its first moment: a signal that arrived
    // since the process started is taken here.
    std::optional<sv::StopSignalWatcher> stop_watcher;
    if (handles_stop_signals(c.name)) {
      stop_watcher.emplace();
    } else {
      sv::unblock_stop_signals();
    }
    // Under mpirun/srun every rank runs the same subcommand; otherwise MPI
    // stays uninitialised.
    sv::MpiRuntime mpi(&argc, &argv);
    sv::log_set_rank(mpi.world_rank());
    std::string rank_prefix = mpi.world_size() > 1 ? " [rank " + std::to_string(mpi.world_rank()) + "]" : "";
    int code = sv::cli::kExitOk;
    std::string message;
    try {
      return c.run(args, sv::cli::Context{mpi});
    } catch (const sv::Error& e) {
      message = std::string(sv::error_kind_name(e.kind())) + ": " + e.what();
      code = sv::cli::exit_code_for(e.kind());
    } catch (const boost::program_options::error& e) {
      message = std::string("usage error: ") + e.what() + " (see stepvideo " + argv[1] + " --help)";
      code = sv::cli::kExitUsage;
    } catch (const std::bad_alloc&) {
      // Almost always a request larger than the machine (README "Limits", "Memory").
      message = "input error: out of memory: the request needs more memory than this process can get; use smaller "
                "sizes, --offload, --vae-tile or more ranks";
      code = sv::cli::kExitInput;
    } catch (const std::exception& e) {
      message = std::string("internal error: ") + e.what();
      code = sv::cli::kExitInternal;
    }
    // When every rank hits the same error (a bad layout, a missing file),
    // rank 0 reports it and aborts the job; the others wait a moment so the
    // message appears once. A rank that fails alone still reports within ~1 s.
    if (mpi.world_size() > 1 && mpi.world_rank() != 0) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (sv::log_format() == sv::LogFormat::Json) {
      sv::log_event(sv::LogLevel::Error, "exit", message,
                    {sv::log_field("command", name), sv::log_field("exit_code", int64_t{code})});
    } else {
      std::fprintf(stderr, "stepvideo %s%s: %s\n", argv[1], rank_prefix.c_str(), message.c_str());
      std::fflush(stderr);
    }
    // The other ranks may be waiting in a collective for this one: end them all.
    if (mpi.world_size() > 1) mpi.abort(code);
    return code;
  }
  std::string names;
  for (const auto& c : kSubcommands) names += (names.empty() ? "" : ", ") + std::string(c.name);
  std::fprintf(stderr, "stepvideo: unknown command '%s' (commands: %s; see stepvideo --help)\n",
               argv[1], names.c_str());
  return sv::cli::kExitUsage;
}
