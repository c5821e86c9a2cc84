// stepvideo decode / encode: the Video-VAE on real files.
//   decode: latents (.safetensors or .h5) -> video (.mp4 H.264 or .mkv FFV1)
//   encode: video (anything libavformat reads) -> latents (mean, logvar, a seeded sample)
#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/options.h"
#include "core/log.h"
#include "core/random.h"
#include "io/tensor_file.h"
#include "io/video_reader.h"
#include "io/video_writer.h"
#include "models/model_directory.h"
#include "stages/decode_stage.h"
#include "stages/write_stage.h"

namespace sv::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;


int cmd_decode(const Args& args, const Context&) {
  std::string model, latents_file, out;
  int fps = 25;
  VaeDecodeOptions options;
  po::options_description opts(
      "stepvideo decode --model DIR --latents FILE --out VIDEO [options]\n\n"
      "Decodes latents [1, T, z, h, w] (or [T, z, h, w]) with the model's Video-VAE; T a multiple\n"
      "of 3 latent frames gives T / 3 * 17 video frames");
  opts.add_options()("model", po::value(&model)->required(), "model directory")(
      "latents", po::value(&latents_file)->required(), "latents (.safetensors or .h5; tensor 'latents')")(
      "out", po::value(&out)->required(), "output video (.mp4 or .mkv)")(
      "fps", po::value(&fps)->default_value(fps), "frames per second");
  add_vae_tiling_options(opts, options.tiling);
  if (parse_options(args, opts).help) return kExitOk;
  options.tiling.validate();
  const io::VideoCodec codec = as_usage_error([&] { return codec_for(out); });
  Tensor latents = io::read_latents_file(latents_file);
  if (latents.rank() == 4) latents = latents.reshape(Shape{1, latents.dim(0), latents.dim(1), latents.dim(2), latents.dim(3)});
  SV_CHECK_AS(InputError, all_finite(latents), "{}: the latents contain NaN or infinity: nothing to decode",
              latents_file);
  const std::unique_ptr<VaeModel> vae = load_vae(model, VaeParts::Decoder);
  SV_CHECK_AS(InputError, latents.rank() == 5 && latents.dim(0) == 1 &&
                              latents.dim(2) == vae->config().z_channels && latents.numel() > 0,
              "{}: latents are {}, expected [1, T, {}, h, w] with T, h, w at least 1", latents_file,
              latents.describe(), vae->config().z_channels);
  log_info("decoding {} latent frames", latents.dim(1));
  const Tensor rgb = DecodeStage(*vae, options).run(latents);
  io::write_video(out, rgb, {.fps = fps, .codec = codec});
  log_info("wrote {} ({} frames of {}x{} (w x h))", out, rgb.dim(0), rgb.dim(2), rgb.dim(1));
  std::cout << out << std::endl;
  return kExitOk;
}

int cmd_encode(const Args& args, const Context&) {
  std::string model, video_file, out;
  int64_t seed = 0;
  po::options_description opts(
      "stepvideo encode --model DIR --video FILE --out LATENTS [options]\n\n"
      "Encodes a video with the model's Video-VAE. Frames must be a multiple of 17 (or pass\n"
      "--truncate-frames to drop the rest); height and width multiples of 16. Writes 'mean',\n"
      "'logvar' and 'latents' (a sample drawn with --seed) as .safetensors or .h5");
  opts.add_options()("model", po::value(&model)->required(), "model directory")(
      "video", po::value(&video_file)->required(), "input video")(
      "out", po::value(&out)->required(), "output latents (.safetensors or .h5)")(
      "seed", po::value(&seed)->default_value(seed), "seed of the posterior sample")(
      "truncate-frames", po::bool_switch(), "drop frames beyond the last multiple of 17");
  const ParsedOptions parsed = parse_options(args, opts);
  if (parsed.help) return kExitOk;
  as_usage_error([&] { return io::tensor_file_format(out); });
  io::VideoInfo info;
  Tensor rgb = io::read_video(video_file, &info);
  const int64_t usable = info.frames / 17 * 17;
  SV_CHECK_AS(InputError, usable > 0, "{}: {} frames; the Video-VAE encodes chunks of 17",
              video_file, info.frames);
  if (usable != info.frames) {
    SV_CHECK_AS(InputError, parsed.vm["truncate-frames"].as<bool>(),
                "{}: {} frames is not a multiple of 17 (the VAE's chunk); pass --truncate-frames "
                "to encode the first {}", video_file, info.frames, usable);
    log_info("note: encoding the first {} of {} frames", usable, info.frames);
    rgb = rgb.slice(0, 0, usable).contiguous();
  }
  SV_CHECK_AS(InputError, info.height % 16 == 0 && info.width % 16 == 0,
              "{}: {}x{} is not a multiple of 16 in both dimensions", video_file, info.width,
              info.height);
  // u8 [T, H, W, 3] -> f32 [1, T, 3, H, W] in [-1, 1], the inverse of the decode post-processing.
  const int64_t t = usable, h = info.height, w = info.width;
  Tensor video = Tensor::empty(Shape{1, t, 3, h, w}, DType::F32);
  const uint8_t* src = rgb.data<uint8_t>();
  float* dst = video.data<float>();
  for (int64_t i = 0; i < t; ++i) {
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t p = 0; p < h * w; ++p) {
        dst[(i * 3 + c) * h * w + p] = static_cast<float>(src[(i * h * w + p) * 3 + c]) / 127.5f - 1.0f;
      }
    }
  }
  const std::unique_ptr<VaeModel> vae = load_vae(model, VaeParts::Encoder);
  const DiagonalGaussian posterior = DiagonalGaussian::from_parameters(vae->encode_parameters(video));
  const Tensor sample = posterior.sample(gaussian_noise(posterior.mean.shape(), static_cast<uint64_t>(seed)));
  io::write_tensor_file(out, {{"mean", posterior.mean}, {"logvar", posterior.logvar}, {"latents", sample}});
  log_info("wrote {} (latents {})", out, sample.shape().str());
  std::cout << out << std::endl;
  return kExitOk;
}

}  // namespace sv::cli
