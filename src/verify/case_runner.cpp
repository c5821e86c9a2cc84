#include "verify/case_runner.h"

#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/elapsed.h"
#include "core/error.h"

namespace sv::verify {

namespace {

using Runner = void (*)(const FixtureCase&, const VerifyOptions&, ReportBuilder&);

struct KindRunner {
  const char* kind;
  Runner run;
};

constexpr KindRunner kRunners[] = {
    {"dit", run_dit_case},
    {"scheduler", run_scheduler_case},
    {"denoise", run_denoise_case},
    {"vae_decode", run_vae_decode_case},
    {"vae_encode", run_vae_encode_case},
    {"step_tokenizer", run_step_tokenizer_case},
    {"bert_tokenizer", run_bert_tokenizer_case},
    {"bert", run_bert_case},
    {"step_llm", run_step_llm_case},
    {"dit_train_step", run_dit_train_step_case},
    {"dit_train_steps", run_dit_train_steps_case},
    {"dit_dpo_step", run_dit_dpo_step_case},
};

}  // namespace

ParallelGroups VerifyOptions::groups_for(int64_t heads, int64_t layers) const {
  if (mpi == nullptr) {
    validate_layout(layout, 1, heads, layers);
    return ParallelGroups::single();
  }
  return make_parallel_groups(*mpi, layout, heads, layers);
}

bool CaseReport::passed() const {
  bool any_output = false;
  for (const auto& r : results) {
    if (r.trace) continue;
    any_output = true;
    if (!r.pass) return false;
  }
  return any_output;  // a case that compared nothing proves nothing
}

void ReportBuilder::check(const std::string& name, const Tensor& out, bool trace) {
  OutputResult r;
  r.name = name;
  r.trace = trace;
  r.tolerance = fixture_.tolerance_for(name);
  r.comparison = compare(out, fixture_.expected(name), r.tolerance.exact);
  r.pass = r.comparison.within(r.tolerance);
  report_.results.push_back(r);
}

std::vector<std::string> supported_kinds() {
  std::vector<std::string> kinds;
  for (const auto& r : kRunners) kinds.emplace_back(r.kind);
  return kinds;
}

CaseReport run_case(const FixtureCase& fixture, const VerifyOptions& options) {
  CaseReport report;
  report.name = fixture.name();
  report.kind = fixture.kind();
  for (const auto& r : kRunners) {
    if (fixture.kind() != r.kind) continue;
    const auto start = std::chrono::steady_clock::now();
    ReportBuilder builder(fixture, report);
    r.run(fixture, options, builder);
    report.seconds = seconds_since(start);
    return report;
  }
  throw NotSupported(fmt::format("{}: fixture kind '{}' is not supported yet (supported: {})",
                                 fixture.dir().string(), fixture.kind(),
                                 fmt::join(supported_kinds(), ", ")));
}

}  // namespace sv::verify
