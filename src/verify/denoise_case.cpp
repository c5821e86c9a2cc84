// Fixture kind "denoise": the pipeline's denoising loop (DiT + guidance +
// Euler steps) from given initial latents and text embeddings.
#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "layers/weight_loader.h"
#include "stages/denoise_stage.h"
#include "verify/case_runner.h"

namespace sv::verify {

void run_denoise_case(const FixtureCase& fixture, const VerifyOptions& options,
                      ReportBuilder& report) {
  const nlohmann::json config = io::read_json_file(fixture.config_path());
  SV_CHECK_AS(InputError, config.contains("transformer") && config.contains("scheduler"),
              "{}: a denoise config needs 'transformer' and 'scheduler'",
              fixture.config_path().string());
  const DitConfig dit_config = DitConfig::from_json(config["transformer"], fixture.config_path());
  DitModel dit(dit_config, options.groups_for(dit_config.num_attention_heads, dit_config.num_layers));
  load_parameters(dit.registry(), io::Checkpoint::open(fixture.model_path()));

  const nlohmann::json& args = fixture.json().at("call").at("args");
  DenoiseOptions opts;
  opts.steps = args.at("num_inference_steps").get<int64_t>();
  opts.time_shift = args.at("time_shift").get<float>();
  opts.cfg_scale = args.at("guidance_scale").get<float>();
  opts.reverse_schedule =
      io::json_optional<bool>(config["scheduler"], "reverse", fixture.config_path(), false);

  DitConditioning text;
  text.y = fixture.input("encoder_hidden_states").to(DType::F32);
  if (fixture.io().find("in.encoder_hidden_states_2")) {
    text.clip = fixture.input("encoder_hidden_states_2").to(DType::F32);
  }
  text.mask = fixture.input("encoder_attention_mask");

  std::vector<Tensor> steps;
  const Tensor latents = DenoiseStage(dit).run(
      fixture.input("latents").to(DType::F32), text, opts,
      [&steps](int64_t, int64_t, const Tensor& x) {
        steps.push_back(x.clone());
        return true;
      });
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string name = "out.latents_step" + std::to_string(i);
    if (fixture.io().find(name)) report.check(name, steps[i]);
  }
  report.check("out.latents", latents);
}

}  // namespace sv::verify
