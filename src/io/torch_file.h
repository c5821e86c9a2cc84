// A PyTorch checkpoint written by torch.save (pytorch_model.bin): a zip of
// <archive>/data.pkl (the pickled state dict, read by the restricted
// unpickler of torch_pickle.h) and one raw little-endian storage per tensor in
// <archive>/data/<key>. Tensors are views into the memory-mapped file where
// their layout allows, like SafetensorsFile.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "io/safetensors.h"
#include "io/torch_pickle.h"
#include "io/zip_archive.h"

namespace sv::io {

class TorchFile {
 public:
  // Validates everything up front: the archive, the pickle (refusing anything
  // but a tensor state dict), each storage's presence, dtype and size, and
  // that every tensor lies inside its storage. CheckpointError naming the file.
  static std::shared_ptr<const TorchFile> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return zip_->path(); }
  // In the state dict's order; data_begin/data_end give the absolute byte
  // range in the file of a contiguous tensor (informative for others).
  const std::vector<TensorInfo>& tensors() const { return infos_; }
  const TensorInfo* find(std::string_view name) const;
  // A read-only view when the tensor is contiguous and aligned, else a copy.
  Tensor tensor(std::string_view name) const;
  Tensor tensor(const TensorInfo& info) const;

 private:
  TorchFile() = default;

  std::shared_ptr<const ZipArchive> zip_;
  std::vector<TensorInfo> infos_;
  std::vector<TorchTensorRecord> records_;       // parallel to infos_
  std::vector<const char*> storage_data_;        // parallel to infos_
  std::map<std::string, size_t, std::less<>> by_name_;
};

// True for a file whose name says torch.save wrote it (*.bin, *.pt, *.pth).
bool is_torch_checkpoint_name(const std::filesystem::path& path);

}  // namespace sv::io
