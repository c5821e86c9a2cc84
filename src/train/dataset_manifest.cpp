#include "train/dataset_manifest.h"

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/sha256.h"
#include "train/preference_judgements.h"

namespace sv::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string text_field(const json& j, const char* key) {
  SV_CHECK_AS(InputError, j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty(),
              "'{}' must be a non-empty string", key);
  return j[key].get<std::string>();
}

fs::path media_path(const std::string& given, const fs::path& base) {
  const fs::path media = given;
  return media.is_absolute() ? media : base / media;
}

DatasetItem parse_pair(const json& j, const fs::path& base) {
  static const std::set<std::string> kKnown{"id", "prompt", "chosen", "rejected"};
  for (const auto& [key, value] : j.items()) {
    SV_CHECK_AS(InputError, kKnown.count(key), "unknown field '{}' in a pairs manifest (fields: prompt, chosen, "
                "rejected, optional id)", key);
  }
  DatasetItem item;
  item.caption = text_field(j, "prompt");
  const std::string chosen = text_field(j, "chosen"), rejected = text_field(j, "rejected");
  SV_CHECK_AS(InputError, chosen != rejected, "'chosen' and 'rejected' are the same file");
  item.media = media_path(chosen, base);
  item.rejected = media_path(rejected, base);
  item.id = j.contains("id") ? text_field(j, "id") : "pair-" + Sha256::hex(chosen + "\n" + rejected).substr(0, 12);
  return item;
}

DatasetItem parse_item(const json& j, const fs::path& base) {
  static const std::set<std::string> kKnown{"id", "video", "image", "caption"};
  for (const auto& [key, value] : j.items()) {
    SV_CHECK_AS(InputError, kKnown.count(key), "unknown field '{}' (fields: id, video or image, caption)", key);
  }
  auto text = [&](const char* key) { return text_field(j, key); };
  DatasetItem item;
  item.id = text("id");
  item.caption = text("caption");
  SV_CHECK_AS(InputError, j.contains("video") != j.contains("image"), "give exactly one of 'video' and 'image'");
  item.image = j.contains("image");
  item.media = media_path(text(item.image ? "image" : "video"), base);
  return item;
}

bool is_pair_line(const json& j) {
  return j.contains("chosen") || j.contains("rejected") || j.contains("prompt") || is_judgement_line(j);
}

// The preferred pairs in force among a label log's lines (ties, skips and
// undone pairs give no sample), in the order of their deciding lines.
void add_preferred(DatasetManifest& m, const std::vector<Judgement>& log, const std::vector<int64_t>& lines,
                   const fs::path& base, std::set<std::string>& ids) {
  std::vector<size_t> deciding;
  for (const auto& [pair, index] : judgements_in_force(log)) deciding.push_back(index);
  std::sort(deciding.begin(), deciding.end());
  for (size_t index : deciding) {
    const Judgement& g = log[index];
    if (g.verdict != Verdict::Preferred) {
      ++m.undecided_pairs;
      continue;
    }
    if (!ids.insert(g.pair_id).second) {
      m.bad_lines.push_back({lines[index], fmt::format("id '{}' is used by a line that is not a judgement", g.pair_id)});
      continue;
    }
    DatasetItem item;
    item.id = g.pair_id;
    item.caption = g.prompt;
    item.media = media_path(g.chosen, base);
    item.rejected = media_path(g.rejected, base);
    item.line = lines[index];
    m.items.push_back(std::move(item));
  }
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
  bool kind_known = false;
  std::vector<Judgement> log;
  std::vector<int64_t> log_lines;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++non_empty;
    try {
      const json j = json::parse(line);
      SV_CHECK_AS(InputError, j.is_object(), "not a JSON object");
      if (kind_known) {
        SV_CHECK_AS(InputError, is_pair_line(j) == m.pairs,
                    "a {} line in a manifest of {} (its first good line decides)",
                    is_pair_line(j) ? "preference-pair" : "sample", m.pairs ? "preference pairs" : "samples");
      }
      if (is_judgement_line(j)) {
        log.push_back(parse_judgement(j));
        log_lines.push_back(number);
        m.pairs = kind_known = true;
        continue;
      }
      DatasetItem item = is_pair_line(j) ? parse_pair(j, base) : parse_item(j, base);
      if (!kind_known) {
        m.pairs = item.pair();
        kind_known = true;
      }
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
  add_preferred(m, log, log_lines, base, ids);
  std::sort(m.items.begin(), m.items.end(), [](const DatasetItem& a, const DatasetItem& b) { return a.line < b.line; });
  return m;
}

}  // namespace sv::train
