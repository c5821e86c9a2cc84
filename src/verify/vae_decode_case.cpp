// Fixture kind "vae_decode": AutoencoderKL.decode (chunks of 3 latent frames,
// blended at the borders), run as the streaming frame-by-frame decoder.
#include "layers/weight_loader.h"
#include "models/vae/vae_model.h"
#include "verify/case_runner.h"
#include "verify/vae_trace.h"

namespace sv::verify {

void run_vae_decode_case(const FixtureCase& fixture, const VerifyOptions& options,
                         ReportBuilder& report) {
  const VaeConfig config = VaeConfig::from_file(fixture.config_path());
  VaeModel model(config, VaeParts::Decoder);
  load_parameters(model.registry(), io::Checkpoint::open(fixture.model_path()));

  VaeTraces traces("decoder", options.traces);
  const Tensor latents = fixture.input("latents").to(DType::F32);
  Tensor video = model.decode_unmixed(latents, VaeDecodeOptions{}, traces.fn());
  if (fixture.io().find("out.video_unmixed")) report.check("out.video_unmixed", video);
  VaeModel::mix(video, config.frame_len);
  report.check("out.video", video);
  traces.check_all(fixture, report);
}

}  // namespace sv::verify
