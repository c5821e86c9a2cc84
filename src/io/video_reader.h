// Reads a video file (any format libavformat knows) into 8-bit RGB frames.
#pragma once

#include <filesystem>

#include "core/tensor.h"

namespace sv::io {

struct VideoInfo {
  int64_t frames = 0, height = 0, width = 0;
  double fps = 0.0;
};

// Returns u8 [T, H, W, 3]; InputError naming the file if it cannot be read.
Tensor read_video(const std::filesystem::path& path, VideoInfo* info = nullptr);

}  // namespace sv::io
