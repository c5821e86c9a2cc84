// WriteStage: a finished item's files: the video and its sidecar JSON, each
// written under a temporary name, fsync'd and renamed, so a file that exists
// is complete.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "core/shape.h"
#include "io/video_writer.h"
#include "models/vae/vae_spatial_tiles.h"
#include "stages/denoise_stage.h"

namespace sv {

// `out.mp4` -> `out.json` (same stem). H.264 for .mp4, lossless FFV1 for .mkv.
std::filesystem::path sidecar_path(const std::filesystem::path& video);
// .mp4: H.264, .mkv: FFV1, in any case; InputError for anything else.
io::VideoCodec codec_for(const std::filesystem::path& video);

// Writes JSON atomically (temp name, fsync, rename, fsync of the directory).
void write_json_atomic(const std::filesystem::path& path, const nlohmann::ordered_json& json);

// What a video's sidecar JSON records, filled alike by `generate` and `run`
// so the two describe a video the same way.
struct VideoSidecar {
  nlohmann::ordered_json leading = nlohmann::ordered_json::object();  // first (run: id, line)
  std::string video;  // file name
  std::string prompt, positive_suffix, negative_prompt;
  int64_t seed = 0;
  std::string noise;
  Shape frames;  // of the written video: [frames, height, width, 3]
  int64_t fps = 0;
  DenoiseOptions sampling;  // steps, cfg_scale, time_shift
  Shape latent_shape;
  std::string layout;
  int world_size = 1;
  nlohmann::ordered_json details = nlohmann::ordered_json::object();  // caller's own, before the version
  vae::SpatialTiling tiling;       // written as "vae_tiling" (not exact) when on
  nlohmann::ordered_json model;    // directory / file identities
  nlohmann::ordered_json timings;  // seconds per stage
};
nlohmann::ordered_json sidecar_json(const VideoSidecar& sidecar);

}  // namespace sv
