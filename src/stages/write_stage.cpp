#include "stages/write_stage.h"

#include "core/version.h"
#include "io/durable_file.h"

namespace sv {

namespace fs = std::filesystem;

fs::path sidecar_path(const fs::path& video) {
  fs::path p = video;
  return p.replace_extension(".json");
}

io::VideoCodec codec_for(const fs::path& video) {
  return video.extension() == ".mkv" ? io::VideoCodec::FFV1 : io::VideoCodec::H264;
}

void write_json_atomic(const fs::path& path, const nlohmann::ordered_json& json) {
  io::write_text_atomic(path, json.dump(2) + "\n");
}

nlohmann::ordered_json sidecar_json(const VideoSidecar& s) {
  nlohmann::ordered_json meta = s.leading;
  meta["video"] = s.video;
  meta["prompt"] = s.prompt;
  meta["positive_suffix"] = s.positive_suffix;
  meta["negative_prompt"] = s.negative_prompt;
  meta["seed"] = s.seed;
  meta["noise"] = s.noise;
  meta["frames"] = s.frames;
  meta["height"] = s.height;
  meta["width"] = s.width;
  meta["fps"] = s.fps;
  meta["steps"] = s.steps;
  meta["cfg_scale"] = s.cfg_scale;
  meta["time_shift"] = s.time_shift;
  meta["latent_shape"] = s.latent_shape.dims();
  meta["layout"] = s.layout;
  meta["world_size"] = s.world_size;
  for (const auto& [key, value] : s.details.items()) meta[key] = value;
  meta["stepvideo_version"] = std::string(version()) + " (" + git_describe() + ")";
  meta["model"] = s.model;
  meta["timings"] = s.timings;
  return meta;
}

nlohmann::ordered_json tiling_json(const vae::SpatialTiling& tiling) {
  return {{"tile", tiling.tile}, {"overlap", tiling.overlap}, {"exact", false}};
}

}  // namespace sv
