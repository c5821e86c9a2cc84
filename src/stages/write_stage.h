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

namespace sv {

// `out.mp4` -> `out.json` (same stem). H.264 for .mp4, lossless FFV1 for .mkv.
std::filesystem::path sidecar_path(const std::filesystem::path& video);
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
  int64_t frames = 0, height = 0, width = 0, fps = 0;  // as written
  int64_t steps = 0;
  float cfg_scale = 0, time_shift = 0;
  Shape latent_shape;
  std::string layout;
  int world_size = 1;
  nlohmann::ordered_json details = nlohmann::ordered_json::object();  // caller's own, before the version
  nlohmann::ordered_json model;    // directory / file identities
  nlohmann::ordered_json timings;  // seconds per stage
};
nlohmann::ordered_json sidecar_json(const VideoSidecar& sidecar);
// {"tile": N, "overlap": M, "exact": false}: recorded in a sidecar when the
// video was decoded in tiles.
nlohmann::ordered_json tiling_json(const vae::SpatialTiling& tiling);

}  // namespace sv
