// Runs a fixture case of any supported kind and compares every expected
// output. Later components add their kinds here (one runner file per kind).
#pragma once

#include <string>
#include <vector>

#include "parallel/mpi_groups.h"
#include "parallel/parallel_groups.h"
#include "verify/fixture_case.h"

namespace sv::verify {

struct OutputResult {
  std::string name;
  Comparison comparison;
  Tolerance tolerance;
  bool trace = false;  // intermediate result: reported, never decides the verdict
  bool pass = false;
};

struct CaseReport {
  std::string name, kind;
  std::vector<OutputResult> results;
  double seconds = 0.0;
  bool passed() const;
};

struct VerifyOptions {
  Layout layout;                    // parallel layout for models that support one
  const MpiRuntime* mpi = nullptr;  // null: a single process
  bool traces = true;
  // Groups for a model with this many heads and layers (validates the layout).
  ParallelGroups groups_for(int64_t heads, int64_t layers) const;
};

// Collects results as a runner produces them.
class ReportBuilder {
 public:
  ReportBuilder(const FixtureCase& fixture, CaseReport& report) : fixture_(fixture), report_(report) {}
  void check(const std::string& name, const Tensor& out, bool trace = false);

 private:
  const FixtureCase& fixture_;
  CaseReport& report_;
};

std::vector<std::string> supported_kinds();
CaseReport run_case(const FixtureCase& fixture, const VerifyOptions& options);

// One runner per kind.
void run_dit_case(const FixtureCase& fixture, const VerifyOptions& options, ReportBuilder& report);
void run_scheduler_case(const FixtureCase& fixture, const VerifyOptions& options, ReportBuilder& report);
void run_denoise_case(const FixtureCase& fixture, const VerifyOptions& options, ReportBuilder& report);
void run_vae_decode_case(const FixtureCase& fixture, const VerifyOptions& options,
                         ReportBuilder& report);
void run_vae_encode_case(const FixtureCase& fixture, const VerifyOptions& options,
                         ReportBuilder& report);
void run_step_tokenizer_case(const FixtureCase& fixture, const VerifyOptions& options,
                             ReportBuilder& report);
void run_bert_tokenizer_case(const FixtureCase& fixture, const VerifyOptions& options,
                             ReportBuilder& report);
void run_bert_case(const FixtureCase& fixture, const VerifyOptions& options, ReportBuilder& report);
void run_dit_train_step_case(const FixtureCase& fixture, const VerifyOptions& options,
                             ReportBuilder& report);
void run_dit_train_steps_case(const FixtureCase& fixture, const VerifyOptions& options,
                              ReportBuilder& report);
void run_dit_dpo_step_case(const FixtureCase& fixture, const VerifyOptions& options, ReportBuilder& report);
void run_step_llm_case(const FixtureCase& fixture, const VerifyOptions& options,
                       ReportBuilder& report);

}  // namespace sv::verify
