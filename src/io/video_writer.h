// Writes 8-bit RGB frames to a video file through libavformat/libavcodec.
#pragma once

#include <filesystem>

#include "core/tensor.h"

namespace sv::io {

enum class VideoCodec {
  H264,  // libx264, yuv420p, in MP4: what users watch
  FFV1,  // lossless FFV1 (8-bit RGB) in Matroska: bit-exact checks
};

struct VideoWriteOptions {
  int fps = 25;
  VideoCodec codec = VideoCodec::H264;
  int crf = 18;  // H.264 quality (lower is better; 18 is visually lossless)
};

// rgb: u8 [T, H, W, 3]. The file is written under a temporary name in the same
// directory, fsync'd and renamed, so a file with the final name is always
// complete; on any error the temporary is removed and InputError names the
// path. H.264 needs even width and height.
void write_video(const std::filesystem::path& path, const Tensor& rgb,
                 const VideoWriteOptions& options = {});

}  // namespace sv::io
