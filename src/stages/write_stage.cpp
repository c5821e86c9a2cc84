#include "stages/write_stage.h"

#include "core/error.h"
#include "core/version.h"
#include "io/durable_file.h"
#include "io/tensor_file.h"

namespace sv {

namespace fs = std::filesystem;

fs::path sidecar_path(const fs::path& video) {
  fs::path p = video;
  return p.replace_extension(".json");
}

io::VideoCodec codec_for(const fs::path& video) {
  const std::string ext = io::lower_extension(video);
  if (ext == ".mp4") return io::VideoCodec::H264;
  if (ext == ".mkv") return io::VideoCodec::FFV1;
  throw InputError(fmt::format("{}: a video must end in .mp4 (H.264) or .mkv (lossless FFV1)", video.string()));
}

void write_json_atomic(const fs::path& path, const nlohmann::ordered_json& json) {
  io::write_text_atomic(path, json.dump(2) + "\n");
}

nlohmann::ordered_json sidecar_json(const VideoSidecar& s) {
  SV_CHECK(s.frames.rank() == 4, "sidecar of {}: frames must be [frames, height, width, 3], got {}",
           s.video, s.frames.str());
  nlohmann::ordered_json meta = s.leading;
  meta["video"] = s.video;
  meta["prompt"] = s.prompt;
  meta["positive_suffix"] = s.positive_suffix;
  meta["negative_prompt"] = s.negative_prompt;
  meta["seed"] = s.seed;
  meta["noise"] = s.noise;
  meta["frames"] = s.frames[0];
  meta["height"] = s.frames[1];
  meta["width"] = s.frames[2];
  meta["fps"] = s.fps;
  meta["steps"] = s.sampling.steps;
  meta["cfg_scale"] = s.sampling.cfg_scale;
  meta["time_shift"] = s.sampling.time_shift;
  meta["latent_shape"] = s.latent_shape.dims();
  meta["layout"] = s.layout;
  meta["world_size"] = s.world_size;
  for (const auto& [key, value] : s.details.items()) meta[key] = value;
  if (s.tiling.enabled()) {
    meta["vae_tiling"] = {{"tile", s.tiling.tile}, {"overlap", s.tiling.overlap}, {"exact", false}};
  }
  meta["stepvideo_version"] = std::string(version()) + " (" + git_describe() + ")";
  meta["model"] = s.model;
  meta["timings"] = s.timings;
  return meta;
}

}  // namespace sv
