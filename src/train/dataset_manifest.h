// The input of encode-dataset: JSONL, one object per line with "id", either
// "video" or "image" (a path, relative to the manifest's folder), and
// "caption"; or, for Video-DPO, preference pairs: "prompt", "chosen" and
// "rejected" (video paths) and an optional "id" (default: "pair-" and a
// hash of both paths). The first good line sets the manifest's kind. Any
// other field, a missing one, a line of the other kind, or an id used twice
// makes that line bad (reported by file and line, the rest still encoded),
// as `run` treats its manifests. A pairs file written by `stepvideo label`
// (train/preference_judgements.h) is a log of judgements: the preferred
// pairs in force become the items; ties, skips and undone pairs are counted.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sv::train {

struct DatasetItem {
  int64_t line = 0;
  std::string id, caption;     // a pair's prompt is its caption
  std::filesystem::path media;  // a pair's chosen video
  bool image = false;
  std::filesystem::path rejected;  // a pair's rejected video; empty for a sample
  bool pair() const { return !rejected.empty(); }
};

struct DatasetManifestLine {
  int64_t line = 0;
  std::string reason;
};

struct DatasetManifest {
  bool pairs = false;  // preference pairs (every item has `rejected`)
  std::vector<DatasetItem> items;
  std::vector<DatasetManifestLine> bad_lines;
  int64_t undecided_pairs = 0;  // judged tie or skipped: no sample
};

// InputError when the file cannot be read or holds no line at all.
DatasetManifest read_dataset_manifest(const std::filesystem::path& path);

}  // namespace sv::train
