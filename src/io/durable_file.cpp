#include "io/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"

namespace sv::io {

namespace fs = std::filesystem;

namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

void append_and_sync(int fd, std::string_view bytes, const fs::path& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    SV_CHECK_AS(InputError, n > 0, "{}: cannot append: {}", path.string(), n < 0 ? std::strerror(errno) : "short write");
    done += static_cast<size_t>(n);
  }
  SV_CHECK_AS(InputError, ::fsync(fd) == 0, "{}: fsync failed: {}", path.string(), std::strerror(errno));
}

fs::path temporary_path_for(const fs::path& path) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  return dir / (std::string(kTemporaryPrefix) + std::to_string(::getpid()) + "." +
                path.filename().string());
}

void fsync_file(const fs::path& path) {
  Fd f{::open(path.c_str(), O_RDONLY)};
  SV_CHECK_AS(InputError, f.fd >= 0, "{}: cannot open to sync: {}", path.string(), std::strerror(errno));
  SV_CHECK_AS(InputError, ::fsync(f.fd) == 0, "{}: fsync failed: {}", path.string(), std::strerror(errno));
}

void fsync_directory(const fs::path& dir) {
  Fd f{::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY)};
  if (f.fd >= 0) ::fsync(f.fd);
}

void write_text_atomic(const fs::path& path, std::string_view text) {
  const fs::path tmp = temporary_path_for(path);
  std::string error;
  {
    Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644)};
    if (f.fd < 0) {
      error = std::strerror(errno);
    } else {
      size_t done = 0;
      while (done < text.size() && error.empty()) {
        const ssize_t n = ::write(f.fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) error = n < 0 ? std::strerror(errno) : "short write";
        else done += static_cast<size_t>(n);
      }
      if (error.empty() && ::fsync(f.fd) != 0) error = std::strerror(errno);
    }
  }
  if (error.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) error = std::strerror(errno);
  if (!error.empty()) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw InputError(fmt::format("{}: cannot write: {}", path.string(), error));
  }
  fsync_directory(path.has_parent_path() ? path.parent_path() : fs::path("."));
}

}  // namespace sv::io
