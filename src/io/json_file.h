// JSON files (upstream config.json, index files) and typed accessors, so a
// config is read once into a typed struct with errors that name the file, the
// key and the offending value, instead of untyped lookups deep in model code.
//
//   const auto cfg = read_json_file(dir / "config.json");
//   spec.num_layers = json_require<int>(cfg, "num_layers", dir / "config.json");
//   spec.eps = json_optional<double>(cfg, "norm_eps", dir / "config.json", 1e-6);
#pragma once

#include <cstdint>
#include <exception>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

namespace sv::io {

// Throws ConfigError "<path>: no such file" or "<path>: invalid JSON: <parser
// message with line and column>".
nlohmann::json read_json_file(const std::filesystem::path& path);

// The file's JSON, or null when it is missing or not valid JSON (for files a
// program reads back opportunistically: a run's own plan, another run's).
nlohmann::json read_json_or_null(const std::filesystem::path& path);

// A nlohmann::json exception's message without its "[json.exception...] " tag.
std::string json_error_text(const std::exception& e);

namespace detail {

[[noreturn]] void json_throw_missing(const std::filesystem::path& file, std::string_view key);
[[noreturn]] void json_throw_not_object(const std::filesystem::path& file, std::string_view key,
                                        const nlohmann::json& obj);
[[noreturn]] void json_throw_type(const std::filesystem::path& file, std::string_view key,
                                  const std::string& expected, const nlohmann::json& got);

template <class T>
struct JsonType;

template <>
struct JsonType<bool> {
  static std::string one() { return "a boolean"; }
  static std::string many() { return "booleans"; }
  static bool convert(const nlohmann::json& v, bool& out) {
    if (!v.is_boolean()) return false;
    out = v.get<bool>();
    return true;
  }
};

template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
struct JsonType<T> {
  static std::string one() {
    return std::is_signed_v<T> ? "an integer" : "a non-negative integer";
  }
  static std::string many() { return std::is_signed_v<T> ? "integers" : "non-negative integers"; }
  static bool convert(const nlohmann::json& v, T& out) {
    if (v.is_number_unsigned()) {
      const auto u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
      out = static_cast<T>(u);
      return true;
    }
    if (!v.is_number_integer()) return false;
    const auto s = v.get<int64_t>();  // negative here: unsigned values took the branch above
    if constexpr (std::is_unsigned_v<T>) {
      return false;
    } else {
      if (s < static_cast<int64_t>(std::numeric_limits<T>::min())) return false;
      out = static_cast<T>(s);
      return true;
    }
  }
};

template <class T>
  requires std::is_floating_point_v<T>
struct JsonType<T> {
  static std::string one() { return "a number"; }
  static std::string many() { return "numbers"; }
  static bool convert(const nlohmann::json& v, T& out) {
    if (!v.is_number()) return false;
    out = v.get<T>();
    return true;
  }
};

template <>
struct JsonType<std::string> {
  static std::string one() { return "a string"; }
  static std::string many() { return "strings"; }
  static bool convert(const nlohmann::json& v, std::string& out) {
    if (!v.is_string()) return false;
    out = v.get<std::string>();
    return true;
  }
};

template <class U>
struct JsonType<std::vector<U>> {
  static std::string one() { return "a list of " + JsonType<U>::many(); }
  static std::string many() { return "lists of " + JsonType<U>::many(); }
  static bool convert(const nlohmann::json& v, std::vector<U>& out) {
    if (!v.is_array()) return false;
    out.clear();
    out.reserve(v.size());
    for (const auto& e : v) {
      U u{};
      if (!JsonType<U>::convert(e, u)) return false;
      out.push_back(std::move(u));
    }
    return true;
  }
};

// Any value: for sub-objects read by further json_require calls.
template <>
struct JsonType<nlohmann::json> {
  static std::string one() { return "a JSON value"; }
  static std::string many() { return "JSON values"; }
  static bool convert(const nlohmann::json& v, nlohmann::json& out) {
    out = v;
    return true;
  }
};

template <class T>
T json_convert_key(const nlohmann::json& value, std::string_view key,
                   const std::filesystem::path& file) {
  T out{};
  if (JsonType<T>::convert(value, out)) return out;
  std::string expected = JsonType<T>::one();
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // Right kind, out of range; a negative value for an unsigned key keeps
    // the plainer "a non-negative integer".
    if (value.is_number_unsigned() || (std::is_signed_v<T> && value.is_number_integer())) {
      expected = "an integer between " + std::to_string(std::numeric_limits<T>::min()) +
                 " and " + std::to_string(std::numeric_limits<T>::max());
    }
  }
  json_throw_type(file, key, expected, value);
}

}  // namespace detail

// `obj[key]` as T (bool, integers with range check, float/double, std::string,
// std::vector of those, nlohmann::json). Throws ConfigError
// "<file>: missing key 'k'" or "<file>: key 'k' should be an integer, got "abc"".
template <class T>
T json_require(const nlohmann::json& obj, std::string_view key,
               const std::filesystem::path& file) {
  if (!obj.is_object()) detail::json_throw_not_object(file, key, obj);
  const auto it = obj.find(key);
  if (it == obj.end()) detail::json_throw_missing(file, key);
  return detail::json_convert_key<T>(*it, key, file);
}

// Like json_require, but an absent key or an explicit null gives `fallback`
// (upstream configs write null for "use the default"). A present value of the
// wrong type is still an error: silently using the default would hide typos.
template <class T>
T json_optional(const nlohmann::json& obj, std::string_view key,
                const std::filesystem::path& file, T fallback) {
  if (!obj.is_object()) detail::json_throw_not_object(file, key, obj);
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  return detail::json_convert_key<T>(*it, key, file);
}

}  // namespace sv::io
