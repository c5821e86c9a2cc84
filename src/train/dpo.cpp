#include "train/dpo.h"

#include <cmath>

#include "core/error.h"
#include "train/flow_matching.h"

namespace sv::train {

namespace {

// Both forms stay finite for any x (beta makes |inside| large).
double log_sigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }
double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }

// a's rows then b's (f32, same trailing shape).
Tensor rows_of_both(const Tensor& a, const Tensor& b) {
  std::vector<int64_t> dims{a.dim(0) + b.dim(0)};
  for (int i = 1; i < a.rank(); ++i) dims.push_back(a.dim(i));
  Tensor out = Tensor::empty(Shape(dims), a.dtype());
  out.slice(0, 0, a.dim(0)).copy_from(a);
  out.slice(0, a.dim(0), out.dim(0)).copy_from(b);
  return out;
}

}  // namespace

std::vector<double> per_sample_mse(const Tensor& prediction, const Tensor& target) {
  const int64_t rows = prediction.dim(0), n = prediction.numel() / rows;
  const float* p = prediction.data<float>();
  const float* v = target.data<float>();
  std::vector<double> mse(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int64_t i = r * n; i < (r + 1) * n; ++i) {
      const double d = static_cast<double>(p[i]) - v[i];
      sum += d * d;
    }
    mse[static_cast<size_t>(r)] = sum / static_cast<double>(n);
  }
  return mse;
}

DpoLoss dpo_loss(std::span<const double> model_w, std::span<const double> model_l, std::span<const double> ref_w,
                 std::span<const double> ref_l, double beta) {
  const size_t b = model_w.size();
  SV_CHECK(b > 0 && model_l.size() == b && ref_w.size() == b && ref_l.size() == b,
           "DPO: {} / {} / {} / {} per-pair errors", model_w.size(), model_l.size(), ref_w.size(), ref_l.size());
  DpoLoss out;
  for (size_t i = 0; i < b; ++i) {
    const double inside = -0.5 * beta * ((model_w[i] - model_l[i]) - (ref_w[i] - ref_l[i]));
    out.inside.push_back(inside);
    out.loss -= log_sigmoid(inside);
    if (inside > 0) out.implicit_accuracy += 1.0;
    // d(-log sigmoid(x))/dx = -sigmoid(-x); d inside / d model_w = -beta/2.
    const double d_inside = -sigmoid(-inside) / static_cast<double>(b);
    out.d_model_w.push_back(-0.5 * beta * d_inside);
    out.d_model_l.push_back(0.5 * beta * d_inside);
  }
  out.loss /= static_cast<double>(b);
  out.implicit_accuracy /= static_cast<double>(b);
  return out;
}

DpoInputs dpo_inputs(const DpoBatch& batch) {
  SV_CHECK_AS(InputError, batch.x0_l.shape() == batch.x0_w.shape() && batch.noise.shape() == batch.x0_w.shape(),
              "DPO batch: winners {}, losers {} and noise {} must be shaped alike", batch.x0_w.describe(),
              batch.x0_l.describe(), batch.noise.describe());
  const auto twice = [](const Tensor& t) { return t.defined() ? rows_of_both(t, t) : Tensor(); };
  const Tensor t = twice(batch.t);
  const FlowMatchingInputs fm = flow_matching_inputs(rows_of_both(batch.x0_w, batch.x0_l), twice(batch.noise), t);
  return DpoInputs{DitInputs{fm.x_t, t, twice(batch.encoder_hidden_states), twice(batch.encoder_hidden_states_2),
                             twice(batch.encoder_attention_mask)},
                   fm.target};
}

DpoStepResult dpo_from_prediction(const Tensor& prediction, const Tensor& target, const std::vector<double>& ref_mse,
                                  double beta, double weight, Tensor& dprediction) {
  const auto rows = static_cast<int64_t>(ref_mse.size()), b = rows / 2;
  SV_CHECK(rows % 2 == 0 && prediction.dim(0) == rows, "DPO: {} rows of predictions, {} reference errors",
           prediction.dim(0), rows);
  DpoStepResult r;
  const std::vector<double> model = per_sample_mse(prediction, target);
  const auto half = [b](const std::vector<double>& v, int64_t k) {
    return std::vector<double>(v.begin() + k * b, v.begin() + (k + 1) * b);
  };
  r.model_mse_w = half(model, 0);
  r.model_mse_l = half(model, 1);
  r.ref_mse_w = half(ref_mse, 0);
  r.ref_mse_l = half(ref_mse, 1);
  r.dpo = dpo_loss(r.model_mse_w, r.model_mse_l, r.ref_mse_w, r.ref_mse_l, beta);

  // d mse[row] / d prediction = 2 (prediction - target) / n, scaled by d loss / d mse[row].
  dprediction = Tensor::empty(prediction.shape(), DType::F32);
  const int64_t n = prediction.numel() / rows;
  const float* p = prediction.data<float>();
  const float* v = target.data<float>();
  float* d = dprediction.data<float>();
  for (int64_t row = 0; row < rows; ++row) {
    const auto i = static_cast<size_t>(row % b);
    const double scale = weight * (row < b ? r.dpo.d_model_w[i] : r.dpo.d_model_l[i]) * 2.0 / static_cast<double>(n);
    for (int64_t k = row * n; k < (row + 1) * n; ++k) d[k] = static_cast<float>(scale * (p[k] - v[k]));
  }
  return r;
}

DpoStepResult dit_dpo_step(const DitModel& policy, const DitModel& reference, const DpoBatch& batch, double beta,
                           DitTrainingOptions options, Gradients& grads, double weight) {
  const DpoInputs in = dpo_inputs(batch);
  const std::vector<double> ref = per_sample_mse(reference.forward(in.inputs), in.target);
  DitTrainingPass pass(policy, options);
  Tensor dprediction;
  const DpoStepResult r = dpo_from_prediction(pass.forward(in.inputs), in.target, ref, beta, weight, dprediction);
  pass.backward(dprediction, grads);
  return r;
}

}  // namespace sv::train
