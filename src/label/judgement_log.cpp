#include "label/judgement_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/log.h"
#include "io/durable_file.h"

namespace sv::label {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<train::Judgement> try_parse(const std::string& line) {
  const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!train::is_judgement_line(j)) return std::nullopt;
  try {
    return train::parse_judgement(j);
  } catch (const InputError&) {
    return std::nullopt;
  }
}

}  // namespace

JudgementLog::JudgementLog(fs::path path) : path_(std::move(path)) {
  std::string bytes;
  if (fs::exists(path_)) {
    std::ifstream in(path_, std::ios::binary);
    SV_CHECK_AS(InputError, in.good(), "{}: cannot read the pairs file", path_.string());
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  size_t start = 0, line = 0;
  bool newline_owed = false;
  while (start < bytes.size()) {
    ++line;
    const size_t end = bytes.find('\n', start);
    const std::string text = bytes.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::optional<train::Judgement> g = try_parse(text);
    if (end == std::string::npos && !g && !judgements_.empty()) {
      log_warn("{}: cutting a torn last line ({} bytes) left by an interrupted append; that pair is shown again",
               path_.string(), text.size());
      std::error_code ec;
      fs::resize_file(path_, start, ec);
      SV_CHECK_AS(InputError, !ec, "{}: cannot cut the torn last line: {}", path_.string(), ec.message());
      break;
    }
    if (text.find_first_not_of(" \t\r") != std::string::npos) {
      SV_CHECK_AS(InputError, g.has_value(),
                  "{}:{}: not a judgement written by `stepvideo label`: give --out a new file or one it wrote",
                  path_.string(), line);
      judgements_.push_back(std::move(*g));
    }
    newline_owed = end == std::string::npos;
    start = end == std::string::npos ? bytes.size() : end + 1;
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  SV_CHECK_AS(InputError, fd_ >= 0, "{}: cannot open the pairs file: {}", path_.string(), std::strerror(errno));
  if (newline_owed) io::append_and_sync(fd_, "\n", path_);  // a complete last line without its newline
  io::fsync_directory(fs::absolute(path_).parent_path());
}

JudgementLog::~JudgementLog() {
  if (fd_ >= 0) ::close(fd_);
}

void JudgementLog::append(const train::Judgement& judgement) {
  // A failed append (disk full) is cut back off, so the next one does not
  // land after half a line.
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  try {
    io::append_and_sync(fd_, train::judgement_record(judgement).dump() + "\n", path_);
  } catch (const InputError&) {
    if (before >= 0 && ::ftruncate(fd_, before) != 0) log_warn("{}: cannot cut a failed append", path_.string());
    throw;
  }
  judgements_.push_back(judgement);
}

}  // namespace sv::label
