// Named tensors in an HDF5 file (one dataset per tensor at the root; floats
// as f32, integers as i64), for latents that users inspect with h5py or h5dump.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace sv::io {

// Written under a temporary name and renamed, like every output.
// `strings` become scalar UTF-8 string datasets (captions, ids, configs).
void write_hdf5(const std::filesystem::path& path,
                const std::vector<std::pair<std::string, Tensor>>& tensors,
                const std::vector<std::pair<std::string, std::string>>& strings = {});
// Reads dataset `name` as f32; InputError naming the file and dataset.
Tensor read_hdf5(const std::filesystem::path& path, const std::string& name);
// Reads a string dataset written by write_hdf5.
std::string read_hdf5_string(const std::filesystem::path& path, const std::string& name);
std::vector<std::string> hdf5_dataset_names(const std::filesystem::path& path);

}  // namespace sv::io
