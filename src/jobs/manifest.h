// Job manifests (DESIGN.md section 6): JSONL, one object per line, or plain
// text, one prompt per line. Every line is validated before work starts; a
// bad line becomes a BadLine (line number and reason) and the rest runs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sv::jobs {

// The run's defaults for fields a line leaves out (from --preset, --config and
// the command line).
struct ItemDefaults {
  int64_t seed = 0;
  int64_t frames = 204, height = 544, width = 992;
  int64_t steps = 50;
  float cfg_scale = 9.0f, time_shift = 13.0f;
  int64_t fps = 25;
  int64_t samples = 1;  // candidates per prompt (--samples-per-prompt)
};

// One video to make, every parameter resolved. frames/height/width are
// already rounded as upstream does (multiples of 17 / 16 / 16).
struct JobItem {
  std::string id;
  int64_t line = 0;  // 1-based line in the manifest
  std::string prompt;
  std::optional<std::string> negative_prompt, positive_suffix;
  int64_t seed = 0;
  int64_t frames = 0, height = 0, width = 0;
  int64_t steps = 0;
  float cfg_scale = 0.0f, time_shift = 0.0f;
  int64_t fps = 25;
  // One of several candidates of one line ("samples": N > 1, for preference
  // pairs): the line's id is `of`, this item's is "<of>-s<sample>" and its
  // seed candidate_seed(line's seed, sample).
  int64_t samples = 1, sample = 0;
  std::string of;
};

// The seed of candidate k of a line whose seed is `seed`: a splitmix64 mix,
// so candidates of neighbouring seeds do not share seeds; non-negative.
int64_t candidate_seed(int64_t seed, int64_t k);

void to_json(nlohmann::json& j, const JobItem& item);
void from_json(const nlohmann::json& j, JobItem& item);

struct BadLine {
  int64_t line = 0;
  std::string reason;
};

enum class ManifestFormat { Jsonl, Text };

struct Manifest {
  std::filesystem::path path;
  ManifestFormat format = ManifestFormat::Jsonl;
  std::string sha256;  // of the file's bytes: a resumed run checks it is the same manifest
  std::vector<JobItem> items;
  std::vector<BadLine> bad_lines;
};

// Format by extension (.jsonl/.json: JSONL, .txt: text), otherwise by the
// first non-blank line ('{' starts JSONL). Blank lines are skipped in both.
// Only an unreadable file throws (InputError); bad content becomes bad lines.
Manifest read_manifest(const std::filesystem::path& path, const ItemDefaults& defaults);

// Ids become file names: 1-128 characters of [A-Za-z0-9._-], not starting
// with '.'. Returns the reason an id is unusable, or nothing.
std::optional<std::string> check_item_id(const std::string& id);

}  // namespace sv::jobs
