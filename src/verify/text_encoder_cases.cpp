// Fixture kinds "bert" (HunyuanCLIP BertModel.last_hidden_state) and
// "step_llm" (Step1Model forward, transposed to [b, s, h]).
#include <map>
#include <string>

#include "io/checkpoint.h"
#include "layers/weight_loader.h"
#include "models/text/bert.h"
#include "models/text/step_llm.h"
#include "verify/case_runner.h"

namespace sv::verify {

namespace {

// Collects traces under their fixture names and checks those the case has.
struct Traces {
  std::map<std::string, Tensor> values;
  TraceFn fn(bool enabled) {
    if (!enabled) return {};
    return [this](std::string_view name, const Tensor& value) {
      values["out.trace." + std::string(name)] = value.clone();
    };
  }
  void report(const FixtureCase& fixture, ReportBuilder& report) const {
    for (const std::string& name : fixture.outputs("out.trace.")) {
      if (name == "out.trace.alibi_bias") continue;
      const auto it = values.find(name);
      if (it != values.end()) report.check(name, it->second, /*trace=*/true);
    }
  }
};

}  // namespace

void run_bert_case(const FixtureCase& fixture, const VerifyOptions& options,
                   ReportBuilder& report) {
  BertModel model(BertConfig::from_file(fixture.config_path()));
  model.load(io::Checkpoint::open(fixture.model_path()));
  Traces traces;
  const Tensor out = model.forward(fixture.input("input_ids"), fixture.input("attention_mask"),
                                   traces.fn(options.traces));
  report.check("out.last_hidden_state", out);
  traces.report(fixture, report);
}

void run_step_llm_case(const FixtureCase& fixture, const VerifyOptions& options,
                       ReportBuilder& report) {
  StepLlmModel model(StepLlmConfig::from_file(fixture.config_path()));
  load_parameters(model.registry(), io::Checkpoint::open(fixture.model_path()));
  Traces traces;
  const Tensor out = model.forward(fixture.input("input_ids"), traces.fn(options.traces));
  report.check("out.y", out);
  // out.trace.alibi_bias holds -inf above the diagonal, which the relative
  // metrics cannot compare; tests/fixture/test_text_encoders.cpp checks it exactly.
  traces.report(fixture, report);
}

}  // namespace sv::verify
