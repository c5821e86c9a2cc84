// WriteStage: a finished item's files: the video and its sidecar JSON, each
// written under a temporary name, fsync'd and renamed, so a file that exists
// is complete.
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

#include "io/video_writer.h"

namespace sv {

// `out.mp4` -> `out.json` (same stem). H.264 for .mp4, lossless FFV1 for .mkv.
std::filesystem::path sidecar_path(const std::filesystem::path& video);
io::VideoCodec codec_for(const std::filesystem::path& video);

// Writes JSON atomically (temp name, fsync, rename, fsync of the directory).
void write_json_atomic(const std::filesystem::path& path, const nlohmann::ordered_json& json);

}  // namespace sv
