#include "train/dataset_manifest.h"

#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sv::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

DatasetItem parse_item(const json& j, const fs::path& base) {
  SV_CHECK_AS(InputError, j.is_object(), "not a JSON object");
  static const std::set<std::string> kKnown{"id", "video", "image", "caption"};
  for (const auto& [key, value] : j.items()) {
    SV_CHECK_AS(InputError, kKnown.count(key), "unknown field '{}' (fields: id, video or image, caption)", key);
  }
  auto text = [&](const char* key) {
    SV_CHECK_AS(InputError, j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty(),
                "'{}' must be a non-empty string", key);
    return j[key].get<std::string>();
  };
  DatasetItem item;
  item.id = text("id");
  item.caption = text("caption");
  SV_CHECK_AS(InputError, j.contains("video") != j.contains("image"), "give exactly one of 'video' and 'image'");
  item.image = j.contains("image");
  const fs::path media = text(item.image ? "image" : "video");
  item.media = media.is_absolute() ? media : base / media;
  return item;
}

}  // namespace

DatasetManifest read_dataset_manifest(const fs::path& path) {
  std::ifstream in(path);
  SV_CHECK_AS(InputError, in.good(), "{}: cannot read the manifest (no such file?)", path.string());
  const fs::path base = path.has_parent_path() ? path.parent_path() : fs::path(".");
  DatasetManifest m;
  std::set<std::string> ids;
  std::string line;
  int64_t number = 0, non_empty = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++non_empty;
    try {
      const json j = json::parse(line);
      DatasetItem item = parse_item(j, base);
      SV_CHECK_AS(InputError, ids.insert(item.id).second, "id '{}' is used by an earlier line", item.id);
      item.line = number;
      m.items.push_back(std::move(item));
    } catch (const json::exception& e) {
      m.bad_lines.push_back({number, fmt::format("not JSON: {}", e.what())});
    } catch (const InputError& e) {
      m.bad_lines.push_back({number, e.what()});
    }
  }
  SV_CHECK_AS(InputError, non_empty > 0, "{}: the manifest holds no items", path.string());
  return m;
}

}  // namespace sv::train
