#include "verify/vae_trace.h"

#include "models/vae/vae_tensor_utils.h"

namespace sv::verify {

vae::TraceFn VaeTraces::fn() {
  if (!enabled_) return {};
  return [this](std::string_view name, const Tensor& value) {
    pieces_["out.trace." + component_ + "." + std::string(name)].push_back(value.clone());
  };
}

void VaeTraces::check_all(const FixtureCase& fixture, ReportBuilder& report) const {
  for (const std::string& name : fixture.outputs("out.trace.")) {
    auto it = pieces_.find(name);
    if (it == pieces_.end()) continue;
    const Tensor whole = vae::cat_frames(it->second);
    report.check(name, vae::from_channels_last(whole, /*time_before_channels=*/false),
                 /*trace=*/true);
  }
}

}  // namespace sv::verify
