#include "jobs/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "io/durable_file.h"

namespace sv::jobs {

namespace fs = std::filesystem;
using nlohmann::json;

Journal::Journal(fs::path path) : path_(std::move(path)) {
  // Cut a torn tail: everything after the last newline.
  if (fs::exists(path_)) {
    std::ifstream in(path_, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t keep = bytes.rfind('\n') == std::string::npos ? 0 : bytes.rfind('\n') + 1;
    if (keep != bytes.size()) {
      log_warn("{}: removing a torn last record ({} bytes) left by an interrupted run", path_.string(),
               bytes.size() - keep);
      std::error_code ec;
      fs::resize_file(path_, keep, ec);
      SV_CHECK_AS(InputError, !ec, "{}: cannot repair the journal: {}", path_.string(), ec.message());
    }
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  SV_CHECK_AS(InputError, fd_ >= 0, "{}: cannot open the journal: {}", path_.string(), std::strerror(errno));
  io::fsync_directory(path_.parent_path());
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::append(const json& record) { io::append_and_sync(fd_, record.dump() + "\n", path_); }

std::vector<json> Journal::read(const fs::path& path) {
  std::vector<json> records;
  std::ifstream in(path, std::ios::binary);
  if (!in) return records;
  for (std::string line; std::getline(in, line);) {
    if (in.eof()) break;  // no newline: a torn record
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("event")) records.push_back(std::move(j));
  }
  return records;
}

JournalState replay(const std::vector<json>& records) {
  JournalState s;
  std::map<std::string, size_t> suspended_by;  // id -> index into `pending`
  std::vector<json> pending;
  for (const json& r : records) {
    const std::string event = r.value("event", "");
    if (event == "start") {
      ++s.starts;
    } else if (event == "done" || event == "failed") {
      const std::string id = r.value("id", "");
      suspended_by.erase(id);
      if (event == "done") {
        s.finished[id] = r;
        s.failed.erase(id);
      } else {
        s.failed[id] = r;
        s.finished.erase(id);
      }
    } else if (event == "suspended") {
      pending.push_back(r);
      for (const json& item : r.at("batch").at("items")) {
        suspended_by[item.at("id").get<std::string>()] = pending.size() - 1;
      }
    }
  }
  std::set<size_t> live;
  for (const auto& [id, k] : suspended_by) live.insert(k);
  for (size_t k : live) {
    // Continue only whole batches: the same items, the same computation.
    bool whole = true;
    for (const json& item : pending[k].at("batch").at("items")) {
      const auto it = suspended_by.find(item.at("id").get<std::string>());
      whole = whole && it != suspended_by.end() && it->second == k;
    }
    if (whole) s.suspended.push_back(pending[k]);
  }
  return s;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace sv::jobs
