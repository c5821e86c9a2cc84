#include "io/json_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace sv::io {

namespace {

// Long values (a whole nested object) would bury the point of the message.
std::string shorten(const nlohmann::json& value) {
  std::string s = value.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

}  // namespace

std::string json_error_text(const std::exception& e) {
  std::string_view m = e.what();
  if (m.starts_with("[json.exception.")) {
    const auto close = m.find("] ");
    if (close != std::string_view::npos) m.remove_prefix(close + 2);
  }
  return std::string(m);
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  const std::string p = path.string();
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  SV_CHECK_AS(ConfigError, std::filesystem::exists(st), "{}: no such file", p);
  SV_CHECK_AS(ConfigError, !std::filesystem::is_directory(st),
              "{}: is a directory, expected a JSON file", p);
  std::ifstream in(path, std::ios::binary);
  SV_CHECK_AS(ConfigError, in.good(), "{}: cannot open: {}", p, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  SV_CHECK_AS(ConfigError, !in.bad(), "{}: read failed: {}", p, std::strerror(errno));
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(fmt::format("{}: invalid JSON: {}", p, json_error_text(e)));
  }
}

namespace detail {

void json_throw_missing(const std::filesystem::path& file, std::string_view key) {
  throw ConfigError(fmt::format("{}: missing key '{}'", file.string(), key));
}

void json_throw_not_object(const std::filesystem::path& file, std::string_view key,
                           const nlohmann::json& obj) {
  throw ConfigError(fmt::format("{}: expected a JSON object holding key '{}', got {}",
                                file.string(), key, shorten(obj)));
}

void json_throw_type(const std::filesystem::path& file, std::string_view key,
                     const std::string& expected, const nlohmann::json& got) {
  throw ConfigError(fmt::format("{}: key '{}' should be {}, got {}", file.string(), key,
                                expected, shorten(got)));
}

}  // namespace detail

nlohmann::json read_json_or_null(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

}  // namespace sv::io
