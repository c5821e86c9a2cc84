#include "io/checkpoint.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace sv::io {

namespace fs = std::filesystem;

namespace {

bool is_index_name(const fs::path& p) { return p.filename().string().ends_with(".index.json"); }
bool is_safetensors_name(const fs::path& p) { return p.extension() == ".safetensors"; }

// Regular files directly inside `dir` (symlinks to files included), sorted by
// name so the result does not depend on the filesystem's order.
std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code ec2;
    if (e.is_regular_file(ec2)) out.push_back(e.path());
  }
  SV_CHECK_AS(CheckpointError, !ec, "{}: cannot list directory: {}", dir.string(), ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool has_checkpoint_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code ec2;
    if (e.is_regular_file(ec2) && (is_index_name(e.path()) || is_safetensors_name(e.path()))) {
      return true;
    }
  }
  return false;
}

Checkpoint Checkpoint::open(const fs::path& path) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  SV_CHECK_AS(CheckpointError, fs::exists(st), "{}: no such file or directory", path.string());
  if (!fs::is_directory(st)) {
    return is_index_name(path) ? open_index(path) : open_files(path, {path});
  }
  std::vector<fs::path> indexes, shards;
  for (const auto& f : files_in(path)) {
    if (is_index_name(f)) indexes.push_back(f);
    if (is_safetensors_name(f)) shards.push_back(f);
  }
  if (indexes.size() == 1) {
    Checkpoint c = open_index(indexes.front());
    c.path_ = path;
    return c;
  }
  SV_CHECK_AS(CheckpointError, !shards.empty(),
              "{}: directory has no *.safetensors files and no *.index.json", path.string());
  return open_files(path, shards);
}

Checkpoint Checkpoint::open_index(const fs::path& index) {
  const std::string ip = index.string();
  nlohmann::json j;
  try {
    j = read_json_file(index);
  } catch (const ConfigError& e) {
    throw CheckpointError(e.what());  // a broken index is a broken checkpoint
  }
  SV_CHECK_AS(CheckpointError, j.is_object() && j.contains("weight_map"),
              "{}: not a safetensors index: no \"weight_map\"", ip);
  const nlohmann::json& map = j["weight_map"];
  SV_CHECK_AS(CheckpointError, map.is_object(),
              "{}: \"weight_map\" should be an object {{tensor: shard file}}", ip);

  Checkpoint c;
  c.path_ = index;
  std::map<std::string, std::shared_ptr<const SafetensorsFile>> shards;  // by name in the index
  for (const auto& [name, shard_value] : map.items()) {
    SV_CHECK_AS(CheckpointError, shard_value.is_string(),
                "{}: weight_map entry for tensor '{}' should be a file name, got {}", ip, name,
                shard_value.dump());
    const auto& shard = shard_value.get_ref<const std::string&>();
    auto it = shards.find(shard);
    if (it == shards.end()) {
      const fs::path shard_path = index.parent_path() / shard;
      std::error_code ec;
      SV_CHECK_AS(CheckpointError, fs::is_regular_file(shard_path, ec),
                  "{}: shard '{}' (listed for tensor '{}') not found: {}: no such file", ip,
                  shard, name, shard_path.string());
      it = shards.emplace(shard, SafetensorsFile::open(shard_path)).first;
    }
    const SafetensorsFile& file = *it->second;
    const TensorInfo* info = file.find(name);
    SV_CHECK_AS(CheckpointError, info != nullptr,
                "{}: index lists tensor '{}' in shard '{}', but {} has no such tensor", ip, name,
                shard, file.path().string());
    c.entries_.emplace(name, Entry{&file, info});
  }
  for (auto& [shard, file] : shards) c.files_.push_back(std::move(file));
  c.finish();
  return c;
}

Checkpoint Checkpoint::open_files(const fs::path& where, const std::vector<fs::path>& files) {
  Checkpoint c;
  c.path_ = where;
  for (const auto& f : files) {
    c.files_.push_back(SafetensorsFile::open(f));
    const SafetensorsFile& file = *c.files_.back();
    for (const TensorInfo& info : file.tensors()) {
      const auto [it, inserted] = c.entries_.emplace(info.name, Entry{&file, &info});
      SV_CHECK_AS(CheckpointError, inserted, "{}: tensor '{}' is in both {} and {}",
                  where.string(), info.name, it->second.file->path().string(),
                  file.path().string());
    }
  }
  c.finish();
  return c;
}

void Checkpoint::finish() {
  names_.clear();
  names_.reserve(entries_.size());
  for (const auto& [name, e] : entries_) names_.push_back(name);
}

const Checkpoint::Entry& Checkpoint::entry(std::string_view name) const {
  const auto it = entries_.find(name);
  SV_CHECK_AS(CheckpointError, it != entries_.end(), "{}: no tensor named '{}'", describe(),
              name);
  return it->second;
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.info;
}

const SafetensorsFile& Checkpoint::file_of(std::string_view name) const {
  return *entry(name).file;
}

Tensor Checkpoint::tensor(std::string_view name) const {
  const Entry& e = entry(name);
  return e.file->tensor(*e.info);
}

}  // namespace sv::io
