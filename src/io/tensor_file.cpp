#include "io/tensor_file.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/hdf5_tensors.h"
#include "io/safetensors.h"

namespace sv::io {

namespace fs = std::filesystem;

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

TensorFileFormat tensor_file_format(const fs::path& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".safetensors") return TensorFileFormat::Safetensors;
  if (ext == ".h5" || ext == ".hdf5") return TensorFileFormat::Hdf5;
  throw InputError(fmt::format("{}: a tensor file must end in .safetensors, .h5 or .hdf5", path.string()));
}

void write_tensor_file(const fs::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  if (tensor_file_format(path) == TensorFileFormat::Hdf5) {
    write_hdf5(path, tensors);
  } else {
    write_safetensors(path, tensors);
  }
}

Tensor read_latents_file(const fs::path& path, const std::string& name) {
  const TensorFileFormat format = tensor_file_format(path);
  SV_CHECK_AS(InputError, fs::is_regular_file(path), "{}: no such latents file", path.string());
  std::vector<std::string> names;
  if (format == TensorFileFormat::Hdf5) {
    names = hdf5_dataset_names(path);
    for (const auto& n : names) {
      if (n == name) return read_hdf5(path, n);
    }
    SV_CHECK_AS(InputError, names.size() == 1, "{}: expected a dataset '{}' or a single dataset, found {}",
                path.string(), name, names.size());
    return read_hdf5(path, names[0]);
  }
  const Checkpoint ckpt = Checkpoint::open(path);
  names = ckpt.names();
  if (ckpt.find(name)) return ckpt.tensor(name).to(DType::F32).contiguous();
  SV_CHECK_AS(InputError, names.size() == 1, "{}: expected a tensor '{}' or a single tensor, found {}",
              path.string(), name, names.size());
  return ckpt.tensor(names[0]).to(DType::F32).contiguous();
}

}  // namespace sv::io
