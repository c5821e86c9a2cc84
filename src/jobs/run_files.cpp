#include "jobs/run_files.h"

#include "core/error.h"
#include "io/durable_file.h"

namespace sv::jobs {

namespace fs = std::filesystem;

Shard Shard::parse(const std::string& text) {
  Shard s;
  const auto slash = text.find('/');
  try {
    SV_CHECK_AS(ConfigError, slash != std::string::npos, "x");
    size_t used = 0;
    s.index = std::stoll(text.substr(0, slash), &used);
    SV_CHECK_AS(ConfigError, used == slash, "x");
    s.count = std::stoll(text.substr(slash + 1), &used);
    SV_CHECK_AS(ConfigError, used == text.size() - slash - 1, "x");
  } catch (const std::exception&) {
    throw ConfigError("--shard '" + text + "': expected K/N (shard K of N, 0 <= K < N)");
  }
  SV_CHECK_AS(ConfigError, s.count >= 1 && s.index >= 0 && s.index < s.count,
              "--shard '{}': expected K/N with 0 <= K < N", text);
  return s;
}

std::string Shard::suffix() const {
  return count == 1 ? std::string() : fmt::format(".shard-{}-of-{}", index, count);
}

int64_t remove_temporaries(const fs::path& out, const std::set<std::string>& ours) {
  int64_t removed = 0;
  for (const fs::path& dir : {out, out / ".partial"}) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      // ".tmp.<pid>.<final name>"
      const std::string name = e.path().filename().string();
      if (!name.starts_with(io::kTemporaryPrefix)) continue;
      const auto dot = name.find('.', io::kTemporaryPrefix.size());
      if (dot != std::string::npos && ours.count(name.substr(dot + 1))) {
        fs::remove(e.path(), ec);
        ++removed;
      }
    }
  }
  return removed;
}

}  // namespace sv::jobs
