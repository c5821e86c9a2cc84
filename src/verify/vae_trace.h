// Collects Video-VAE traces (channel-last pieces, possibly several per module
// when the decoder streams) and checks them against the fixture's
// out.trace.<component>.<module> tensors, which are b c t h w.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "models/vae/vae_layers.h"
#include "verify/case_runner.h"

namespace sv::verify {

class VaeTraces {
 public:
  // component: "encoder" or "decoder".
  VaeTraces(std::string component, bool enabled)
      : component_(std::move(component)), enabled_(enabled) {}
  vae::TraceFn fn();
  void check_all(const FixtureCase& fixture, ReportBuilder& report) const;

 private:
  std::string component_;
  bool enabled_;
  std::map<std::string, std::vector<Tensor>> pieces_;
};

}  // namespace sv::verify
