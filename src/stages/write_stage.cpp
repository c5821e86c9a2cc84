#include "stages/write_stage.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "core/error.h"

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
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const fs::path tmp = dir / (".tmp." + std::to_string(::getpid()) + "." + path.filename().string());
  const std::string text = json.dump(2) + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  SV_CHECK_AS(InputError, fd >= 0, "{}: cannot create file", tmp.string());
  const ssize_t written = ::write(fd, text.data(), text.size());
  const bool ok = written == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (ok) fs::rename(tmp, path, ec);
  if (!ok || ec) {
    fs::remove(tmp, ec);
    throw InputError(path.string() + ": cannot write (disk full or no permission?)");
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace sv
