// Fixture kind "vae_encode": AutoencoderKL.encode up to its random draw (the
// draw itself uses the fixture's stored noise), for each input video.
#include <string>

#include "layers/weight_loader.h"
#include "models/vae/vae_model.h"
#include "verify/case_runner.h"
#include "verify/vae_trace.h"

namespace sv::verify {

void run_vae_encode_case(const FixtureCase& fixture, const VerifyOptions& options,
                         ReportBuilder& report) {
  const VaeConfig config = VaeConfig::from_file(fixture.config_path());
  VaeModel model(config, VaeParts::Encoder);
  load_parameters(model.registry(), io::Checkpoint::open(fixture.model_path()));

  VaeTraces traces("encoder", options.traces);
  for (const std::string suffix : {"", "_2chunks"}) {
    if (!fixture.io().find("in.video" + suffix)) continue;
    const Tensor video = fixture.input("video" + suffix).to(DType::F32);
    const Tensor parameters =
        model.encode_parameters(video, suffix.empty() ? traces.fn() : vae::TraceFn());
    report.check("out.parameters" + suffix, parameters);
    const DiagonalGaussian posterior = DiagonalGaussian::from_parameters(parameters);
    report.check("out.mean" + suffix, posterior.mean);
    report.check("out.logvar" + suffix, posterior.logvar);
    if (fixture.io().find("in.noise" + suffix) && fixture.io().find("out.sample" + suffix)) {
      report.check("out.sample" + suffix,
                   posterior.sample(fixture.input("noise" + suffix).to(DType::F32)));
    }
  }
  traces.check_all(fixture, report);
}

}  // namespace sv::verify
