// A set of named tensors spread over one or more safetensors files (or
// PyTorch `.bin` files, as HunyuanCLIP is released), found the way the
// upstream release lays them out: a single file, a sharded index
// (`*.safetensors.index.json`, `pytorch_model.bin.index.json`), or a
// directory holding either. Model code asks
// for tensors by name and never cares which shard holds them.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "io/safetensors.h"
#include "io/torch_file.h"

namespace sv::io {

class Checkpoint {
 public:
  // `path` is a .safetensors or torch.save `.bin` file, an index `*.index.json`
  // ({"weight_map": {tensor: shard file}} with shards relative to the index),
  // or a directory: its one `*.index.json` if it has exactly one, else all its
  // `*.safetensors`, else all its `*.bin`.
  // All headers are read and validated here; throws CheckpointError naming the
  // path, the shard and the tensor at fault (a missing shard, a tensor the
  // index promises but its shard lacks, a tensor found in two files).
  static Checkpoint open(const std::filesystem::path& path);

  const TensorInfo* find(std::string_view name) const;  // nullptr if absent
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  // Both throw CheckpointError naming the tensor and this checkpoint if absent
  // (file_of also for a tensor that lives in a PyTorch file).
  const SafetensorsFile& file_of(std::string_view name) const;
  Tensor tensor(std::string_view name) const;  // zero-copy, read-only view

  const std::vector<std::string>& names() const { return names_; }  // sorted
  size_t size() const { return names_.size(); }
  const std::vector<std::shared_ptr<const SafetensorsFile>>& files() const { return files_; }
  size_t num_files() const { return files_.size() + torch_files_.size(); }
  const std::filesystem::path& path() const { return path_; }
  std::string describe() const { return path_.string(); }  // for messages

 private:
  struct Entry {
    const SafetensorsFile* file;  // exactly one of file and torch is set
    const TensorInfo* info;
    const TorchFile* torch = nullptr;
  };

  Checkpoint() = default;
  static Checkpoint open_index(const std::filesystem::path& index);
  static Checkpoint open_files(const std::filesystem::path& where,
                               const std::vector<std::filesystem::path>& files);
  const Entry& entry(std::string_view name) const;
  void finish();  // fills names_ from entries_

  std::filesystem::path path_;
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::vector<std::shared_ptr<const TorchFile>> torch_files_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<std::string> names_;
};

// True if `dir` holds something Checkpoint::open accepts (a *.safetensors,
// *.bin or *.index.json file directly inside it).
bool has_checkpoint_files(const std::filesystem::path& dir);

}  // namespace sv::io
