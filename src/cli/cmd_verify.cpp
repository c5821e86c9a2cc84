// stepvideo verify DIR...: run reference fixture cases, print the comparison
// of every expected output and exit non-zero if any case is out of tolerance.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "parallel/layout.h"
#include "parallel/mpi_communicator.h"
#include "verify/case_runner.h"

namespace sv::cli {

namespace po = boost::program_options;

namespace {

void print_result(const verify::OutputResult& r) {
  const auto& c = r.comparison;
  if (!c.shape_ok) {
    fmt::print("  {:<44} shape mismatch{}\n", r.name, r.trace ? "  (trace)" : "  FAIL");
    return;
  }
  if (r.tolerance.exact) {
    fmt::print("  {:<44} mismatches {:>6}  (exact)  {}\n", r.name, c.mismatches,
               r.pass ? "ok" : "FAIL");
    return;
  }
  fmt::print("  {:<44} max_abs {:9.3e}  max_abs/max_ref {:9.3e} (tol {:.0e})  rel_l2 {:9.3e} (tol {:.0e})  {}\n",
             r.name, c.max_abs, c.max_abs_over_max_ref, r.tolerance.max_abs_over_max_ref,
             c.rel_l2, r.tolerance.rel_l2,
             r.trace ? (r.pass ? "(trace ok)" : "(trace over tolerance)") : (r.pass ? "ok" : "FAIL"));
}

}  // namespace

int cmd_verify(const Args& args, const Context& context) {
  po::options_description visible("stepvideo verify [options] CASE_DIR...\n\n"
                                  "Runs reference fixture folders (case.json names the kind) and "
                                  "compares every output with its tolerance");
  visible.add_options()("no-traces", po::bool_switch(),
                        "skip intermediate (out.trace.*) comparisons")(
      "layout", po::value<std::string>()->default_value(""),
      "parallel layout for the DiT under mpirun, e.g. tp=2 or tp=2,sp=2");
  po::options_description hidden;
  hidden.add_options()("case", po::value<std::vector<std::string>>(), "fixture folders");
  po::positional_options_description positional;
  positional.add("case", -1);
  const ParsedOptions parsed = parse_options(args, visible, hidden, positional);
  if (parsed.help) return kExitOk;
  const po::variables_map& vm = parsed.vm;
  if (!vm.count("case")) throw po::error("no fixture folder given");

  verify::VerifyOptions options;
  options.traces = !vm["no-traces"].as<bool>();
  options.layout = Layout::parse(vm["layout"].as<std::string>());
  options.mpi = &context.mpi;
  // Every rank computes the same comparison; one prints it.
  const bool printer = context.mpi.world_rank() == 0;
  int passed = 0, failed = 0;
  for (const std::string& dir : vm["case"].as<std::vector<std::string>>()) {
    const verify::FixtureCase fixture = verify::FixtureCase::open(dir);
    const verify::CaseReport report = verify::run_case(fixture, options);
    const bool ok = report.passed();
    if (printer) {
      fmt::print("{} ({}, {}, {:.2f} s)\n", report.name, report.kind, options.layout.str(),
                 report.seconds);
      for (const auto& r : report.results) print_result(r);
      fmt::print("{} {}\n", ok ? "PASS" : "FAIL", report.name);
    }
    (ok ? passed : failed) += 1;
    std::fflush(stdout);
  }
  if (printer) fmt::print("verify: {} passed, {} failed\n", passed, failed);
  return failed ? kExitFailure : kExitOk;
}

}  // namespace sv::cli
