// The input of encode-dataset: JSONL, one object per line with "id", either
// "video" or "image" (a path, relative to the manifest's folder), and
// "caption". Any other field, a missing one, or an id used twice makes that
// line bad (reported by file and line, the rest still encoded), as `run`
// treats its manifests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sv::train {

struct DatasetItem {
  int64_t line = 0;
  std::string id, caption;
  std::filesystem::path media;
  bool image = false;
};

struct DatasetManifestLine {
  int64_t line = 0;
  std::string reason;
};

struct DatasetManifest {
  std::vector<DatasetItem> items;
  std::vector<DatasetManifestLine> bad_lines;
};

// InputError when the file cannot be read or holds no line at all.
DatasetManifest read_dataset_manifest(const std::filesystem::path& path);

}  // namespace sv::train
