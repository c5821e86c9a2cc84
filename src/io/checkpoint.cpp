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
bool is_bin_name(const fs::path& p) { return p.extension() == ".bin"; }

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
    if (e.is_regular_file(ec2) &&
        (is_index_name(e.path()) || is_safetensors_name(e.path()) || is_bin_name(e.path()))) {
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
  std::vector<fs::path> indexes, shards, bins;
  for (const auto& f : files_in(path)) {
    if (is_index_name(f)) indexes.push_back(f);
    if (is_safetensors_name(f)) shards.push_back(f);
    if (is_bin_name(f)) bins.push_back(f);
  }
  if (indexes.size() == 1) {
    Checkpoint c = open_index(indexes.front());
    c.path_ = path;
    return c;
  }
  // A folder with both formats (as transformers writes) is read from safetensors.
  if (shards.empty()) shards = bins;
  SV_CHECK_AS(CheckpointError, !shards.empty(),
              "{}: directory has no *.safetensors or *.bin files and no *.index.json",
              path.string());
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
  std::map<std::string, std::shared_ptr<const TorchFile>> torch_shards;
  for (const auto& [name, shard_value] : map.items()) {
    SV_CHECK_AS(CheckpointError, shard_value.is_string(),
                "{}: weight_map entry for tensor '{}' should be a file name, got {}", ip, name,
                shard_value.dump());
    const auto& shard = shard_value.get_ref<const std::string&>();
    const fs::path shard_path = index.parent_path() / shard;
    if (!shards.count(shard) && !torch_shards.count(shard)) {
      std::error_code ec;
      SV_CHECK_AS(CheckpointError, fs::is_regular_file(shard_path, ec),
                  "{}: shard '{}' (listed for tensor '{}') not found: {}: no such file", ip,
                  shard, name, shard_path.string());
      if (is_torch_checkpoint_name(shard_path)) {
        torch_shards.emplace(shard, TorchFile::open(shard_path));
      } else {
        shards.emplace(shard, SafetensorsFile::open(shard_path));
      }
    }
    const auto st = shards.find(shard);
    const TorchFile* torch = st == shards.end() ? torch_shards.at(shard).get() : nullptr;
    const SafetensorsFile* file = torch ? nullptr : st->second.get();
    const TensorInfo* info = torch ? torch->find(name) : file->find(name);
    SV_CHECK_AS(CheckpointError, info != nullptr,
                "{}: index lists tensor '{}' in shard '{}', but {} has no such tensor", ip, name,
                shard, shard_path.string());
    c.entries_.emplace(name, Entry{file, info, torch});
  }
  for (auto& [shard, file] : shards) c.files_.push_back(std::move(file));
  for (auto& [shard, file] : torch_shards) c.torch_files_.push_back(std::move(file));
  c.finish();
  return c;
}

Checkpoint Checkpoint::open_files(const fs::path& where, const std::vector<fs::path>& files) {
  Checkpoint c;
  c.path_ = where;
  const auto add = [&](const std::vector<TensorInfo>& infos, const SafetensorsFile* file,
                       const TorchFile* torch, const fs::path& f) {
    for (const TensorInfo& info : infos) {
      const auto [it, inserted] = c.entries_.emplace(info.name, Entry{file, &info, torch});
      const Entry& e = it->second;
      SV_CHECK_AS(CheckpointError, inserted, "{}: tensor '{}' is in both {} and {}",
                  where.string(), info.name,
                  (e.torch ? e.torch->path() : e.file->path()).string(), f.string());
    }
  };
  for (const auto& f : files) {
    if (is_torch_checkpoint_name(f)) {
      c.torch_files_.push_back(TorchFile::open(f));
      add(c.torch_files_.back()->tensors(), nullptr, c.torch_files_.back().get(), f);
    } else {
      c.files_.push_back(SafetensorsFile::open(f));
      add(c.files_.back()->tensors(), c.files_.back().get(), nullptr, f);
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
  const Entry& e = entry(name);
  SV_CHECK_AS(CheckpointError, e.file != nullptr, "{}: tensor '{}' is in the PyTorch file {}",
              describe(), name, e.torch->path().string());
  return *e.file;
}

Tensor Checkpoint::tensor(std::string_view name) const {
  const Entry& e = entry(name);
  return e.torch ? e.torch->tensor(*e.info) : e.file->tensor(*e.info);
}

}  // namespace sv::io
