#include "jobs/manifest.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/sha256.h"
#include "stages/generation_request.h"

namespace sv::jobs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFields[] = {"id",    "prompt", "negative_prompt", "positive_suffix",
                                   "seed",  "frames", "height",          "width",
                                   "steps", "cfg_scale", "time_shift",   "fps",
                                   "samples"};

// Offset of the first byte that breaks UTF-8, or nothing when the line is valid.
std::optional<size_t> invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || (n == 2 && c < 0xC2) || i + n > s.size()) return i;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    }
    if (n == 3) {  // overlong forms and UTF-16 surrogates
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return i;
    }
    if (n == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90) || c > 0xF4) return i;
    }
    i += n;
  }
  return std::nullopt;
}

std::string trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// The checks and rounding `generate` applies too (stages/generation_request.h).
void validate_and_round(JobItem& item) {
  const SamplingRequest request{.frames = item.frames, .height = item.height, .width = item.width,
                                .steps = item.steps, .cfg_scale = item.cfg_scale, .time_shift = item.time_shift,
                                .seed = item.seed, .fps = item.fps};
  validate_request(request, [](std::string_view field) { return fmt::format("'{}'", field); });
  const VideoSize size = rounded_size(request);
  item.frames = size.frames;
  item.height = size.height;
  item.width = size.width;
}

JobItem defaults_item(const ItemDefaults& d, int64_t line) {
  JobItem item;
  item.line = line;
  item.seed = d.seed;
  item.frames = d.frames;
  item.height = d.height;
  item.width = d.width;
  item.steps = d.steps;
  item.cfg_scale = d.cfg_scale;
  item.time_shift = d.time_shift;
  item.fps = d.fps;
  item.samples = d.samples;
  return item;
}

constexpr int64_t kMaxSamples = 64;

// A line of `samples` N > 1 as its N candidates.
std::vector<JobItem> candidates(const JobItem& line) {
  if (line.samples == 1) return {line};
  std::vector<JobItem> out;
  for (int64_t k = 0; k < line.samples; ++k) {
    JobItem c = line;
    c.of = line.id;
    c.sample = k;
    c.id = fmt::format("{}-s{}", line.id, k);
    c.seed = candidate_seed(line.seed, k);
    out.push_back(std::move(c));
  }
  return out;
}

int64_t integer(const json& v, const char* field) {
  if (!v.is_number_integer()) throw InputError(fmt::format("'{}' must be an integer, got {}", field, v.dump()));
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    throw InputError(fmt::format("'{}' is too large: {}", field, v.dump()));
  }
  return v.get<int64_t>();
}

float number(const json& v, const char* field) {
  if (!v.is_number()) throw InputError(fmt::format("'{}' must be a number, got {}", field, v.dump()));
  return static_cast<float>(v.get<double>());
}

std::string text_field(const json& v, const char* field) {
  if (!v.is_string()) throw InputError(fmt::format("'{}' must be a string, got {}", field, v.dump()));
  return v.get<std::string>();
}

// One JSONL line -> item; InputError with the reason when it is bad.
JobItem parse_json_line(const std::string& text, const ItemDefaults& defaults, int64_t line) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // syntax, and numbers beyond double (1e400)
    std::string what = e.what();
    if (const auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    throw InputError("not valid JSON: " + what);
  }
  if (!j.is_object()) throw InputError("expected a JSON object, got " + std::string(j.type_name()));
  for (const auto& [key, value] : j.items()) {
    if (std::find_if(std::begin(kFields), std::end(kFields), [&](const char* f) { return key == f; }) ==
        std::end(kFields)) {
      std::string known;
      for (const char* f : kFields) known += (known.empty() ? "" : ", ") + std::string(f);
      throw InputError(fmt::format("unknown field '{}' (fields: {})", key, known));
    }
  }
  JobItem item = defaults_item(defaults, line);
  if (!j.contains("prompt")) throw InputError("missing field 'prompt'");
  item.prompt = text_field(j["prompt"], "prompt");
  if (j.contains("id")) item.id = text_field(j["id"], "id");
  if (j.contains("negative_prompt")) item.negative_prompt = text_field(j["negative_prompt"], "negative_prompt");
  if (j.contains("positive_suffix")) item.positive_suffix = text_field(j["positive_suffix"], "positive_suffix");
  for (auto [field, target] : {std::pair{"seed", &item.seed}, {"frames", &item.frames}, {"height", &item.height},
                               {"width", &item.width}, {"steps", &item.steps}, {"fps", &item.fps},
                               {"samples", &item.samples}}) {
    if (j.contains(field)) *target = integer(j[field], field);
  }
  if (j.contains("cfg_scale")) item.cfg_scale = number(j["cfg_scale"], "cfg_scale");
  if (j.contains("time_shift")) item.time_shift = number(j["time_shift"], "time_shift");
  return item;
}

std::string line_id(int64_t line) { return fmt::format("{:05d}", line); }

}  // namespace

void to_json(json& j, const JobItem& item) {
  j = json{{"id", item.id},         {"line", item.line},   {"prompt", item.prompt},
           {"seed", item.seed},     {"frames", item.frames}, {"height", item.height},
           {"width", item.width},   {"steps", item.steps}, {"cfg_scale", item.cfg_scale},
           {"time_shift", item.time_shift}, {"fps", item.fps}};
  if (item.negative_prompt) j["negative_prompt"] = *item.negative_prompt;
  if (item.positive_suffix) j["positive_suffix"] = *item.positive_suffix;
  if (item.samples > 1) j["candidate"] = {{"of", item.of}, {"sample", item.sample}, {"samples", item.samples}};
}

int64_t candidate_seed(int64_t seed, int64_t k) {
  uint64_t z = static_cast<uint64_t>(seed) + static_cast<uint64_t>(k + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return static_cast<int64_t>((z ^ (z >> 31)) >> 1);
}

void from_json(const json& j, JobItem& item) {
  item.id = j.at("id").get<std::string>();
  item.line = j.at("line").get<int64_t>();
  item.prompt = j.at("prompt").get<std::string>();
  item.seed = j.at("seed").get<int64_t>();
  item.frames = j.at("frames").get<int64_t>();
  item.height = j.at("height").get<int64_t>();
  item.width = j.at("width").get<int64_t>();
  item.steps = j.at("steps").get<int64_t>();
  item.cfg_scale = j.at("cfg_scale").get<float>();
  item.time_shift = j.at("time_shift").get<float>();
  item.fps = j.at("fps").get<int64_t>();
  item.negative_prompt.reset();
  item.positive_suffix.reset();
  if (j.contains("negative_prompt")) item.negative_prompt = j["negative_prompt"].get<std::string>();
  if (j.contains("positive_suffix")) item.positive_suffix = j["positive_suffix"].get<std::string>();
  item.samples = 1;
  item.sample = 0;
  item.of.clear();
  if (j.contains("candidate")) {
    item.of = j["candidate"].at("of").get<std::string>();
    item.sample = j["candidate"].at("sample").get<int64_t>();
    item.samples = j["candidate"].at("samples").get<int64_t>();
  }
}

std::optional<std::string> check_item_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return "id must have 1 to 128 characters";
  if (id.front() == '.') return "id must not start with '.'";
  // The run's own files live beside the videos.
  if (id == "run" || id == "summary" || id.starts_with("run.shard-") || id.starts_with("summary.shard-")) {
    return fmt::format("id '{}' is reserved for the run's own files", id);
  }
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return fmt::format("id '{}' has a character outside [A-Za-z0-9._-] (ids name files)", id);
  }
  return std::nullopt;
}

Manifest read_manifest(const fs::path& path, const ItemDefaults& defaults) {
  std::ifstream in(path, std::ios::binary);
  SV_CHECK_AS(InputError, fs::is_regular_file(path) && in, "{}: manifest does not exist or is not readable",
              path.string());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Manifest m;
  m.path = path;
  m.sha256 = Sha256::hex(bytes);

  std::vector<std::string> lines;
  {
    std::istringstream s(bytes);
    for (std::string l; std::getline(s, l);) lines.push_back(std::move(l));
  }
  if (!lines.empty() && lines[0].starts_with("\xEF\xBB\xBF")) lines[0].erase(0, 3);  // BOM
  const std::string ext = path.extension().string();
  if (ext == ".txt") {
    m.format = ManifestFormat::Text;
  } else if (ext != ".jsonl" && ext != ".json") {
    const auto first = std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return !trim(l).empty(); });
    m.format = first != lines.end() && trim(*first).starts_with("{") ? ManifestFormat::Jsonl : ManifestFormat::Text;
  }

  std::map<std::string, int64_t> seen;  // id -> line that claimed it
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto line = static_cast<int64_t>(i + 1);
    const std::string text = trim(lines[i]);
    if (text.empty()) continue;
    try {
      if (const auto at = invalid_utf8_at(lines[i])) {
        throw InputError(fmt::format("not valid UTF-8 (byte {} of the line)", *at + 1));
      }
      JobItem item;
      if (m.format == ManifestFormat::Text) {
        item = defaults_item(defaults, line);
        item.prompt = text;
      } else {
        item = parse_json_line(text, defaults, line);
      }
      validate_prompt(item.prompt, [](std::string_view field) { return fmt::format("'{}'", field); });
      if (item.samples < 1 || item.samples > kMaxSamples) {
        throw InputError(fmt::format("'samples' must be 1 to {}, got {}", kMaxSamples, item.samples));
      }
      if (item.id.empty()) item.id = line_id(line);
      validate_and_round(item);
      const std::vector<JobItem> made = candidates(item);
      for (const JobItem& c : made) {
        if (const auto why = check_item_id(c.id)) throw InputError(*why);
        if (const auto it = seen.find(c.id); it != seen.end()) {
          throw InputError(fmt::format("duplicate id '{}' (first used on line {})", c.id, it->second));
        }
      }
      for (const JobItem& c : made) {
        seen.emplace(c.id, line);
        m.items.push_back(c);
      }
    } catch (const InputError& e) {
      m.bad_lines.push_back(BadLine{line, e.what()});
    }
  }
  return m;
}

}  // namespace sv::jobs
