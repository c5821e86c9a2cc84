// safetensors files (format: fixtures/README.md section 2), read through a
// read-only memory map so a 30 GB checkpoint costs no copies and ranks on one
// node share the page cache. The header is validated completely when the file
// is opened, so later code can trust every TensorInfo without re-checking.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"
#include "core/tensor.h"

namespace sv::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  // Byte range [data_begin, data_end) relative to the start of the data region
  // (the first byte after the header), as written in the file.
  size_t data_begin = 0;
  size_t data_end = 0;

  size_t nbytes() const { return data_end - data_begin; }
};

class SafetensorsFile {
 public:
  // Throws CheckpointError naming the file (and the tensor, where one is at
  // fault) for a missing, unreadable, truncated or malformed file.
  static std::shared_ptr<const SafetensorsFile> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  // Sorted by data offset: reading in this order walks the file front to back.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(std::string_view name) const;  // nullptr if absent
  // A view into the mapping (no copy); the mapping lives as long as any view.
  // The bytes are mapped read-only: writing through the view faults, so copy
  // (clone, to) before modifying. Data not aligned to its element size (a file
  // whose header is not padded) is copied instead, so pointers are always
  // valid for their type.
  Tensor tensor(std::string_view name) const;
  Tensor tensor(const TensorInfo& info) const;
  // The raw JSON header bytes, padding included (stable input for hashing a
  // checkpoint's identity without reading its data).
  std::string_view header_json() const { return header_; }
  size_t file_size() const { return file_size_; }
  size_t data_size() const { return file_size_ - data_start_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  struct Mapping;
  SafetensorsFile() = default;
  void parse_header();

  std::filesystem::path path_;
  std::shared_ptr<Mapping> mapping_;
  size_t file_size_ = 0;
  size_t data_start_ = 0;  // 8 + header length
  std::string_view header_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> by_name_;  // index into tensors_
  std::map<std::string, std::string> metadata_;
};

// Writes tensors (CPU, any layout; stored row-major) in the given order. The
// file appears under `path` only once it is complete: it is written to
// `path.tmp.<pid>`, fsync'd and renamed. Throws InputError naming the path.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace sv::io
