// Fixture kinds "dit_train_step" (one loss and every parameter's gradient),
// "dit_train_steps" (K AdamW steps) and "dit_dpo_step" (one Video-DPO loss
// and the policy's gradient), fixtures/TRAIN.md. K, the batch, the optimizer
// settings, beta and the models come from the case.
#include <cmath>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "layers/weight_loader.h"
#include "models/dit/dit_model.h"
#include "train/dit_step.h"
#include "train/dpo.h"
#include "verify/case_runner.h"

namespace sv::verify {

namespace {

constexpr std::string_view kGradPrefix = "out.grad.";

struct LoadedModel {
  DitConfig config;
  std::unique_ptr<DitModel> model;
};

// weights: the case's model file unless given (the DPO reference's).
LoadedModel load_model(const FixtureCase& fixture, const VerifyOptions& options,
                       const std::filesystem::path& weights = {}) {
  LoadedModel m{DitConfig::from_file(fixture.config_path()), nullptr};
  m.model = std::make_unique<DitModel>(m.config, options.groups_for(m.config.num_attention_heads, m.config.num_layers));
  SV_CHECK_AS(ConfigError, m.model->groups().world_size == 1,
              "{}: training cases run on one rank (`mpi.train.parallel` and `mpi.dit_equivalence.*` cover the "
              "layouts)",
              fixture.name());
  load_parameters(m.model->registry(), io::Checkpoint::open(weights.empty() ? fixture.model_path() : weights));
  return m;
}

// A list of per-pair values as a tensor.
Tensor values(const std::vector<double>& v) {
  Tensor t = Tensor::empty(Shape{static_cast<int64_t>(v.size())}, DType::F32);
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = static_cast<float>(v[i]);
  return t;
}

// The text inputs, shared by every step of a case.
train::DitBatch text_inputs(const FixtureCase& fixture) {
  train::DitBatch batch;
  batch.encoder_hidden_states = fixture.input("encoder_hidden_states").to(DType::F32);
  if (fixture.io().find("in.encoder_hidden_states_2")) {
    batch.encoder_hidden_states_2 = fixture.input("encoder_hidden_states_2").to(DType::F32);
  }
  batch.encoder_attention_mask = fixture.input("encoder_attention_mask");
  return batch;
}

Tensor scalar(double value) { return Tensor::full(Shape{1}, static_cast<float>(value)); }

// The parameter an expected "<prefix><name>" output belongs to; an expected
// tensor for a parameter the model does not have is an error, not a skip.
const Parameter& parameter_of(const DitModel& model, const FixtureCase& fixture, const std::string& output,
                              std::string_view prefix) {
  const std::string name = output.substr(prefix.size());
  const Parameter* p = model.registry().find(name);
  SV_CHECK_AS(InputError, p != nullptr, "{}: {} names no parameter of the model", fixture.name(), output);
  return *p;
}

// Every parameter must have an expected output under prefix: a case that
// left one out would not test it.
void require_every_parameter(const DitModel& model, const FixtureCase& fixture, std::string_view prefix) {
  for (const auto& p : model.registry().parameters()) {
    SV_CHECK_AS(InputError, fixture.io().find(std::string(prefix) + p->name) != nullptr,
                "{}: no expected {}{}", fixture.name(), prefix, p->name);
  }
}

}  // namespace

void run_dit_train_step_case(const FixtureCase& fixture, const VerifyOptions& options, ReportBuilder& report) {
  LoadedModel m = load_model(fixture, options);
  train::DitBatch batch = text_inputs(fixture);
  batch.x0 = fixture.input("x0").to(DType::F32);
  batch.noise = fixture.input("noise").to(DType::F32);
  batch.t = fixture.input("t").to(DType::F32);

  Gradients grads;
  const train::DitStepResult step = train::dit_flow_matching_step(*m.model, batch, {}, grads);
  report.check("out.x_t", step.inputs.x_t);
  report.check("out.target", step.inputs.target);
  report.check("out.model_output", step.prediction);
  report.check("out.loss", scalar(step.loss));
  require_every_parameter(*m.model, fixture, kGradPrefix);
  for (const std::string& name : fixture.outputs(std::string(kGradPrefix))) {
    const Tensor* g = grads.find(parameter_of(*m.model, fixture, name, kGradPrefix));
    SV_CHECK_AS(InputError, g != nullptr, "{}: the backward gave {} no gradient", fixture.name(), name);
    report.check(name, *g);
  }
}

void run_dit_train_steps_case(const FixtureCase& fixture, const VerifyOptions& options, ReportBuilder& report) {
  LoadedModel m = load_model(fixture, options);
  const nlohmann::json& opt = fixture.json().at("optimizer");
  train::AdamWSettings settings;
  settings.beta1 = opt.at("betas").at(0).get<float>();
  settings.beta2 = opt.at("betas").at(1).get<float>();
  settings.eps = opt.at("eps").get<float>();
  settings.weight_decay = opt.at("weight_decay").get<float>();
  settings.max_grad_norm = opt.at("max_grad_norm").get<float>();
  train::AdamW adamw(settings);

  const Tensor x0 = fixture.input("x0").to(DType::F32), noise = fixture.input("noise").to(DType::F32);
  const Tensor t = fixture.input("t").to(DType::F32), lr = fixture.input("lr").to(DType::F32);
  const int64_t steps = x0.dim(0);
  SV_CHECK_AS(InputError, noise.shape() == x0.shape() && t.rank() == 2 && t.dim(0) == steps &&
                              lr.numel() == steps,
              "{}: in.x0 {}, in.noise {}, in.t {}, in.lr {} do not describe {} steps", fixture.name(),
              x0.describe(), noise.describe(), t.describe(), lr.describe(), steps);

  std::map<std::string, Tensor> initial;
  for (const auto& p : m.model->registry().parameters()) initial[p->name] = p->value.clone();
  Tensor losses = Tensor::empty(Shape{steps}, DType::F32), norms = Tensor::empty(Shape{steps}, DType::F32);
  train::DitBatch batch = text_inputs(fixture);
  Gradients grads;
  for (int64_t k = 0; k < steps; ++k) {
    batch.x0 = x0.select(0, k).contiguous();
    batch.noise = noise.select(0, k).contiguous();
    batch.t = t.select(0, k).contiguous();
    grads.zero();
    const double loss = train::dit_flow_matching_step(*m.model, batch, {}, grads).loss;
    const train::StepReport r =
        adamw.step(train::parameter_gradients(m.model->registry(), grads), lr.data<float>()[k]);
    losses.data<float>()[k] = static_cast<float>(loss);
    norms.data<float>()[k] = static_cast<float>(r.grad_norm);
  }
  report.check("out.loss", losses);
  report.check("out.grad_norm", norms);

  const std::string update = "out.update.", avg = "out.exp_avg.", avg_sq = "out.exp_avg_sq.";
  for (const std::string_view prefix : {std::string_view(update), std::string_view(avg), std::string_view(avg_sq)}) {
    require_every_parameter(*m.model, fixture, prefix);
  }
  for (const std::string& name : fixture.outputs(update)) {
    const Parameter& p = parameter_of(*m.model, fixture, name, update);
    // The difference of two floats is exact in double (the reference forms it
    // so); rounding it to f32 then costs 6e-8 of its size, far inside the tolerance.
    const Tensor& now = p.value;
    const Tensor& before = initial.at(p.name);
    Tensor diff = Tensor::empty(now.shape(), DType::F32);
    for (int64_t i = 0; i < now.numel(); ++i) {
      diff.data<float>()[i] =
          static_cast<float>(static_cast<double>(now.data<float>()[i]) - before.data<float>()[i]);
    }
    report.check(name, diff);
  }
  for (const std::string& name : fixture.outputs(avg)) {
    if (name.starts_with(avg_sq)) continue;  // "out.exp_avg." is a prefix of "out.exp_avg_sq."
    const train::AdamWMoments* mo = adamw.moments(parameter_of(*m.model, fixture, name, avg).name);
    SV_CHECK_AS(InputError, mo != nullptr, "{}: {} was never updated", fixture.name(), name);
    report.check(name, mo->exp_avg);
  }
  for (const std::string& name : fixture.outputs(avg_sq)) {
    const train::AdamWMoments* mo = adamw.moments(parameter_of(*m.model, fixture, name, avg_sq).name);
    SV_CHECK_AS(InputError, mo != nullptr, "{}: {} was never updated", fixture.name(), name);
    report.check(name, mo->exp_avg_sq);
  }
}

void run_dit_dpo_step_case(const FixtureCase& fixture, const VerifyOptions& options, ReportBuilder& report) {
  LoadedModel policy = load_model(fixture, options);
  const std::filesystem::path reference_file = fixture.dir() / "ref_model.safetensors";
  SV_CHECK_AS(InputError, std::filesystem::exists(reference_file), "{}: no reference weights {}", fixture.name(),
              reference_file.string());
  LoadedModel reference = load_model(fixture, options, reference_file);
  SV_CHECK_AS(InputError, fixture.json().contains("beta"), "{}: case.json gives no beta", fixture.name());
  const double beta = fixture.json().at("beta").get<double>();

  const train::DitBatch text = text_inputs(fixture);
  train::DpoBatch batch;
  batch.x0_w = fixture.input("x0_w").to(DType::F32);
  batch.x0_l = fixture.input("x0_l").to(DType::F32);
  batch.noise = fixture.input("noise").to(DType::F32);
  batch.t = fixture.input("t").to(DType::F32);
  batch.encoder_hidden_states = text.encoder_hidden_states;
  batch.encoder_hidden_states_2 = text.encoder_hidden_states_2;
  batch.encoder_attention_mask = text.encoder_attention_mask;

  Gradients grads;
  const train::DpoStepResult r = train::dit_dpo_step(*policy.model, *reference.model, batch, beta, {}, grads);
  report.check("out.loss", scalar(r.dpo.loss));
  report.check("out.inside", values(r.dpo.inside));
  report.check("out.model_mse_w", values(r.model_mse_w));
  report.check("out.model_mse_l", values(r.model_mse_l));
  report.check("out.ref_mse_w", values(r.ref_mse_w));
  report.check("out.ref_mse_l", values(r.ref_mse_l));
  report.check("out.implicit_accuracy", scalar(r.dpo.implicit_accuracy));
  require_every_parameter(*policy.model, fixture, kGradPrefix);
  for (const std::string& name : fixture.outputs(std::string(kGradPrefix))) {
    const Tensor* g = grads.find(parameter_of(*policy.model, fixture, name, kGradPrefix));
    SV_CHECK_AS(InputError, g != nullptr, "{}: the backward gave {} no gradient", fixture.name(), name);
    report.check(name, *g);
  }
}

}  // namespace sv::verify
