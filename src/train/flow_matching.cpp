#include "train/flow_matching.h"

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "core/random.h"

namespace sv::train {

namespace {

// Separates the training draws of one (seed, step, sample) from each other.
constexpr uint32_t kTimeDraw = 0x74696d65;  // "time"

void require_f32(const Tensor& t, const char* what) {
  SV_CHECK(t.defined() && t.dtype() == DType::F32 && t.is_contiguous(), "flow matching: {} must be contiguous f32, got {}",
           what, t.defined() ? t.describe() : "undefined");
}

}  // namespace

FlowMatchingInputs flow_matching_inputs(const Tensor& x0, const Tensor& noise, const Tensor& t) {
  require_f32(x0, "x0");
  require_f32(noise, "noise");
  require_f32(t, "t");
  SV_CHECK(x0.rank() >= 1 && noise.shape() == x0.shape() && t.rank() == 1 && t.dim(0) == x0.dim(0),
           "flow matching: x0 {}, noise {} and t {} do not fit ([B, ...], [B, ...], [B])", x0.describe(),
           noise.describe(), t.describe());
  FlowMatchingInputs out{Tensor::empty(x0.shape(), DType::F32), Tensor::empty(x0.shape(), DType::F32)};
  const int64_t batch = x0.dim(0), per = batch ? x0.numel() / batch : 0;
  const float* a = x0.data<float>();
  const float* n = noise.data<float>();
  float* xt = out.x_t.data<float>();
  float* v = out.target.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    const float tb = t.data<float>()[b];
    for (int64_t i = b * per; i < (b + 1) * per; ++i) {
      xt[i] = tb * a[i] + (1.0f - tb) * n[i];
      v[i] = a[i] - n[i];
    }
  }
  return out;
}

LossAndGradient mse_loss(const Tensor& prediction, const Tensor& target) {
  require_f32(prediction, "prediction");
  require_f32(target, "target");
  SV_CHECK(prediction.shape() == target.shape() && prediction.numel() > 0,
           "flow matching: prediction {} for target {}", prediction.describe(), target.describe());
  LossAndGradient out{0.0, Tensor::empty(prediction.shape(), DType::F32)};
  const auto n = static_cast<double>(prediction.numel());
  const float* p = prediction.data<float>();
  const float* v = target.data<float>();
  float* g = out.gradient.data<float>();
  double sum = 0.0;
  for (int64_t i = 0; i < prediction.numel(); ++i) {
    const double e = static_cast<double>(p[i]) - v[i];
    sum += e * e;
    g[i] = static_cast<float>(2.0 * e / n);
  }
  out.loss = sum / n;
  return out;
}

void TimeSampler::validate() const {
  SV_CHECK_AS(InputError, std::isfinite(shift) && shift > 0, "time shift must be a finite number above 0, got {}",
              shift);
  if (kind == TimeSampling::LogitNormal) {
    SV_CHECK_AS(InputError, std::isfinite(logit_mean), "logit-normal mean must be finite, got {}", logit_mean);
    SV_CHECK_AS(InputError, std::isfinite(logit_std) && logit_std > 0,
                "logit-normal std must be a finite number above 0, got {}", logit_std);
  }
}

float TimeSampler::sample(uint64_t seed, int64_t step, int64_t index) const {
  SV_CHECK(step >= 0 && step <= UINT32_MAX && index >= 0 && index <= UINT32_MAX,
           "time sample: step {} or sample index {} outside [0, 2^32)", step, index);
  const std::array<uint32_t, 4> bits =
      philox4x32_10({static_cast<uint32_t>(index), static_cast<uint32_t>(step), kTimeDraw, 0},
                    {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  constexpr double kTwo32 = 4294967296.0;
  double u = (bits[0] + 0.5) / kTwo32;  // in (0, 1), never an end
  if (kind == TimeSampling::LogitNormal) {
    // Box-Muller from two more words, then the logistic function.
    const double r = std::sqrt(-2.0 * std::log((bits[1] + 0.5) / kTwo32));
    const double z = logit_mean + logit_std * r * std::cos(2.0 * std::numbers::pi * (bits[2] / kTwo32));
    u = 1.0 / (1.0 + std::exp(-z));
  }
  return static_cast<float>(1.0 - shift * u / (1.0 + (shift - 1.0) * u));
}

}  // namespace sv::train
