// Fixture kind "dit": one StepVideoModel.forward call.
#include <map>

#include "core/log.h"
#include "layers/weight_loader.h"
#include "models/dit/dit_model.h"
#include "verify/case_runner.h"

namespace sv::verify {

void run_dit_case(const FixtureCase& fixture, const VerifyOptions& options, ReportBuilder& report) {
  const DitConfig config = DitConfig::from_file(fixture.config_path());
  DitModel model(config, options.groups_for(config.num_attention_heads, config.num_layers));
  load_parameters(model.registry(), io::Checkpoint::open(fixture.model_path()));

  DitInputs in;
  in.hidden_states = fixture.input("hidden_states").to(DType::F32);
  in.timestep = fixture.input("timestep").to(DType::F32);
  in.encoder_hidden_states = fixture.input("encoder_hidden_states").to(DType::F32);
  if (fixture.io().find("in.encoder_hidden_states_2")) {
    in.encoder_hidden_states_2 = fixture.input("encoder_hidden_states_2").to(DType::F32);
  }
  in.encoder_attention_mask = fixture.input("encoder_attention_mask");

  std::map<std::string, Tensor> traces;
  TraceFn trace;
  if (options.traces) {
    trace = [&traces](std::string_view name, const Tensor& value) {
      traces["out.trace." + std::string(name)] = value.clone();
    };
  }
  const Tensor out = model.forward(in, trace);
  report.check("out.x", out);
  for (const std::string& name : fixture.outputs("out.trace.")) {
    auto it = traces.find(name);
    if (it != traces.end()) report.check(name, it->second, /*trace=*/true);
  }
}

}  // namespace sv::verify
