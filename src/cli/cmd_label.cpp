// stepvideo label: a local web page on which a person judges pairs of
// candidate videos (run --samples-per-prompt N); each judgement is appended
// to a pairs file that encode-dataset reads for Video-DPO (src/label/).
#include <atomic>
#include <chrono>
#include <thread>

#include <boost/program_options.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "core/log.h"
#include "core/stop_signal.h"
#include "label/label_server.h"

namespace sv::cli {

namespace po = boost::program_options;

int cmd_label(const Args& args, const Context&) {
  std::string candidates, out, host = "127.0.0.1";
  int port = 8080;
  po::options_description opts(
      "stepvideo label --candidates RUN_DIR --out PAIRS.jsonl [--port 8080] [--host 127.0.0.1]\n\n"
      "Serves a page that shows two candidate videos of one prompt side by side (every two finished\n"
      "candidates of a `run --samples-per-prompt N` directory) and records which is better: left\n"
      "(Left arrow or A), right (Right arrow or D), tie (T or Down), skip (S), undo (U or Backspace).\n"
      "Each judgement is appended to PAIRS.jsonl and fsync'd before the page moves on; run the same\n"
      "command again to continue where labelling stopped. Several tabs may label at once. The file is\n"
      "a pairs manifest for `encode-dataset` (its preferred pairs). Stop with Ctrl-C");
  opts.add_options()("candidates", po::value(&candidates)->required(), "the --out directory of a run with candidates")(
      "out", po::value(&out)->required(), "the pairs file to append judgements to (created if missing)")(
      "port", po::value(&port)->default_value(port), "TCP port (0: any free port, printed)")(
      "host", po::value(&host)->default_value(host),
      "address to listen on; the default serves this machine only (use an SSH tunnel to label remotely)");
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  if (port < 0 || port > 65535) throw po::error("--port must be 0..65535");

  label::CandidateSet set = label::read_candidates(candidates);
  label::JudgementLog log(out);
  label::LabelSession session(std::move(set), log);
  if (session.unknown_pairs() > 0) {
    log_warn("{}: {} judged pair(s) are not in {} (another run directory?): kept, not shown", out,
             session.unknown_pairs(), candidates);
  }
  if (host != "127.0.0.1" && host != "localhost" && host != "::1") {
    log_warn("label: listening on {}: anyone who can reach this address can read the candidates and record "
             "judgements (there is no login); an SSH tunnel to 127.0.0.1 is safer", host);
  }
  label::LabelServer server(session);
  const int bound = server.bind(host, port);
  const label::Progress p = session.progress();
  const label::CandidateSet& c = session.candidates();
  log_info("label: {} pair(s) of {} prompt(s) from {} candidate video(s); {} judged, {} skipped, {} open; "
           "judgements go to {}", p.total, c.prompts, c.candidates.size(), p.judged, p.skipped, p.open(), out);
  log_info("label: open http://{}:{}/ (Ctrl-C to stop)", host, bound);

  StopSignalWatcher watcher;
  std::atomic<bool> served{false};
  std::thread stopper([&server, &served] {
    while (!stop_requested() && !served) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server.stop();
  });
  server.serve();
  served = true;
  stopper.join();
  const label::Progress done = session.progress();
  log_info("label: stopped; {} / {} judged, {} skipped, in {}", done.judged, done.total, done.skipped, out);
  return kExitOk;
}

}  // namespace sv::cli
