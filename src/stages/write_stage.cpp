#include "stages/write_stage.h"

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

}  // namespace sv
