// Fixture kind "scheduler": FlowMatchDiscreteScheduler.set_timesteps for
// several (steps, shift) pairs, both schedule directions.
#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "models/scheduler/flow_match_scheduler.h"
#include "verify/case_runner.h"

namespace sv::verify {

namespace {

Tensor as_tensor(const std::vector<float>& v) {
  return Tensor::from_vector(v, Shape{static_cast<int64_t>(v.size())});
}

void check_schedules(const nlohmann::json& args, const std::string& prefix, bool reverse,
                     ReportBuilder& report) {
  for (const auto& [tag, a] : args.items()) {
    const FlowMatchSchedule s = flow_match_schedule(a.at("num_inference_steps").get<int64_t>(),
                                                    a.at("time_shift").get<float>(), reverse);
    report.check(prefix + tag + ".sigmas", as_tensor(s.sigmas));
    report.check(prefix + tag + ".timesteps", as_tensor(s.timesteps));
  }
}

}  // namespace

void run_scheduler_case(const FixtureCase& fixture, const VerifyOptions&, ReportBuilder& report) {
  const nlohmann::json config = io::read_json_file(fixture.config_path());
  const bool reverse = io::json_optional<bool>(config, "reverse", fixture.config_path(), false);
  const nlohmann::json& call = fixture.json().at("call");
  check_schedules(call.at("args_per_output"), "out.", reverse, report);
  if (call.contains("args_per_output_reverse_true")) {
    check_schedules(call.at("args_per_output_reverse_true"), "out.reverse.", true, report);
  }
}

}  // namespace sv::verify
