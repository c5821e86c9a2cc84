// Files of named tensors that users ask for by name: the extension decides
// the format (.safetensors, or .h5/.hdf5 for HDF5; any case), and a value is
// never written under an extension that names another format.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace sv::io {

enum class TensorFileFormat { Safetensors, Hdf5 };

// InputError naming the path when the extension is neither.
TensorFileFormat tensor_file_format(const std::filesystem::path& path);

// Written under a temporary name and renamed, in the format the name asks for.
void write_tensor_file(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors);

// Latents from a .safetensors or .h5/.hdf5 file: the tensor `name`, or the
// only tensor when there is one. InputError when the file does not exist.
Tensor read_latents_file(const std::filesystem::path& path, const std::string& name = "latents");

// The extension in lower case ("X.MP4" -> ".mp4").
std::string lower_extension(const std::filesystem::path& path);

}  // namespace sv::io
