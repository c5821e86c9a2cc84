#include "train/tensorboard_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>

#include "core/crc32c.h"
#include "core/error.h"
#include "io/durable_file.h"
#include "train/tensorboard.pb.h"

namespace sv::train {

namespace fs = std::filesystem;
namespace tb = stepvideo::tensorboard;

namespace {

// TFRecord stores CRCs rotated and offset ("masked"): checksumming bytes that
// already hold plain CRCs (a record file inside a record) would be weak.
uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

// Byte by byte, so the file is little-endian whatever the host is.
void append_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  SV_CHECK_AS(InputError, !ec, "{}: cannot create the TensorBoard directory: {}", dir.string(), ec.message());

  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  const std::string base =
      "events.out.tfevents." + std::to_string(seconds) + "." + host_name() + "." + std::to_string(::getpid());
  // O_EXCL: never append to (or truncate) another writer's file.
  for (int attempt = 0; fd_ < 0; ++attempt) {
    path_ = dir / (attempt == 0 ? base : base + "." + std::to_string(attempt));
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    SV_CHECK_AS(InputError, fd_ >= 0 || (errno == EEXIST && attempt < 1000),
                "{}: cannot create the TensorBoard event file: {}", path_.string(), std::strerror(errno));
  }
  io::fsync_directory(dir);

  tb::Event version;
  version.set_wall_time(now_seconds());
  version.set_file_version("brain.Event:2");
  try {
    write_record(version.SerializeAsString());
  } catch (...) {
    ::close(fd_);  // the destructor does not run for a throwing constructor
    throw;
  }
}

TensorBoardWriter::~TensorBoardWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step, double wall_time_s) {
  tb::Event event;
  event.set_wall_time(wall_time_s);
  event.set_step(step);
  tb::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  write_record(event.SerializeAsString());
}

void TensorBoardWriter::flush() {
  SV_CHECK_AS(InputError, ::fsync(fd_) == 0, "{}: fsync of the TensorBoard event file failed: {}",
              path_.string(), std::strerror(errno));
}

void TensorBoardWriter::write_record(const std::string& data) {
  std::string record;
  record.reserve(8 + 4 + data.size() + 4);
  append_le(record, data.size(), 8);
  append_le(record, masked_crc32c(record.data(), 8), 4);
  record += data;
  append_le(record, masked_crc32c(data.data(), data.size()), 4);

  size_t done = 0;
  while (done < record.size()) {
    const ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    SV_CHECK_AS(InputError, n > 0, "{}: cannot write to the TensorBoard event file: {}", path_.string(),
                n < 0 ? std::strerror(errno) : "short write");
    done += static_cast<size_t>(n);
  }
}

}  // namespace sv::train
