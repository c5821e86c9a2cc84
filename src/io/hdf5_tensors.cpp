#include "io/hdf5_tensors.h"

#include <hdf5.h>
#include <unistd.h>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/durable_file.h"

namespace sv::io {

namespace fs = std::filesystem;

namespace {

// Closes an HDF5 handle on scope exit.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

// A file opened read-only and one of its datasets; InputError naming both
// when either is missing.
struct DatasetReader {
  Handle file, set;
  DatasetReader(const fs::path& path, const std::string& name)
      : file{H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose},
        set{file.id >= 0 ? H5Dopen2(file.id, name.c_str(), H5P_DEFAULT) : -1, H5Dclose} {
    SV_CHECK_AS(InputError, fs::is_regular_file(path), "{}: no such file", path.string());
    SV_CHECK_AS(InputError, file.id >= 0, "{}: not a readable HDF5 file", path.string());
    SV_CHECK_AS(InputError, set.id >= 0, "{}: no dataset '{}'", path.string(), name);
  }
};

// HDF5 prints an error stack by default; our exceptions say what failed.
void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}

// Variable-length UTF-8 strings: what h5py reads as str.
hid_t make_utf8_string_type() {
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  return type;
}

void write_string(hid_t file, const fs::path& path, const std::string& name, const std::string& text, hid_t dcpl) {
  const Handle type{make_utf8_string_type(), H5Tclose};
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  Handle set{H5Dcreate2(file, name.c_str(), type.id, space.id, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose};
  const char* data = text.c_str();
  SV_CHECK_AS(InputError, set.id >= 0 && H5Dwrite(set.id, type.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, &data) >= 0,
              "{}: cannot write string '{}' (disk full?)", path.string(), name);
}

}  // namespace

std::string read_hdf5_string(const fs::path& path, const std::string& name) {
  silence_hdf5();
  const DatasetReader reader(path, name);
  const Handle& set = reader.set;
  const Handle type{make_utf8_string_type(), H5Tclose};
  Handle space{H5Dget_space(set.id), H5Sclose};
  char* data = nullptr;
  SV_CHECK_AS(InputError, H5Dread(set.id, type.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, &data) >= 0 && data != nullptr,
              "{}: dataset '{}' is not a string", path.string(), name);
  std::string text(data);
  H5Dvlen_reclaim(type.id, space.id, H5P_DEFAULT, &data);
  return text;
}

void write_hdf5(const fs::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                const std::vector<std::pair<std::string, std::string>>& strings) {
  silence_hdf5();
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const fs::path tmp = temporary_path_for(path);
  try {
    {
      Handle file{H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
      SV_CHECK_AS(InputError, file.id >= 0, "{}: cannot create HDF5 file", path.string());
      // No modification times in the objects: the same tensors give the same
      // bytes, so a resumed training run's checkpoint can be compared with cmp.
      Handle untimed{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
      H5Pset_obj_track_times(untimed.id, false);
      for (const auto& [name, tensor] : tensors) {
        // 64-bit integers (token ids) stay integers; everything else is stored as f32.
        const bool integer = tensor.dtype() == DType::I64;
        const Tensor t = tensor.to(integer ? DType::I64 : DType::F32).contiguous();
        std::vector<hsize_t> dims(t.shape().dims().begin(), t.shape().dims().end());
        Handle space{H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose};
        Handle set{H5Dcreate2(file.id, name.c_str(), integer ? H5T_STD_I64LE : H5T_IEEE_F32LE, space.id,
                              H5P_DEFAULT, untimed.id, H5P_DEFAULT),
                   H5Dclose};
        SV_CHECK_AS(InputError, set.id >= 0 &&
                        H5Dwrite(set.id, integer ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
                                 H5P_DEFAULT, t.raw_data()) >= 0,
                    "{}: cannot write dataset '{}' (disk full?)", path.string(), name);
      }
      for (const auto& [name, text] : strings) write_string(file.id, path, name, text, untimed.id);
      SV_CHECK_AS(InputError, H5Fflush(file.id, H5F_SCOPE_GLOBAL) >= 0, "{}: flush failed",
                  path.string());
    }
    fsync_file(tmp);  // latents may be a preempted item's only state
    std::error_code ec;
    fs::rename(tmp, path, ec);
    SV_CHECK_AS(InputError, !ec, "{}: cannot rename into place: {}", path.string(), ec.message());
    fsync_directory(dir);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

std::vector<std::string> hdf5_dataset_names(const fs::path& path) {
  silence_hdf5();
  Handle file{H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
  SV_CHECK_AS(InputError, file.id >= 0, "{}: not a readable HDF5 file", path.string());
  std::vector<std::string> names;
  H5Literate(file.id, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names);
  return names;
}

Tensor read_hdf5(const fs::path& path, const std::string& name) {
  silence_hdf5();
  const DatasetReader reader(path, name);
  const Handle& set = reader.set;
  Handle space{H5Dget_space(set.id), H5Sclose};
  const int rank = H5Sget_simple_extent_ndims(space.id);
  SV_CHECK_AS(InputError, rank >= 0 && rank <= 8, "{}: dataset '{}' has rank {}", path.string(), name, rank);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  Tensor t = Tensor::empty(Shape(std::vector<int64_t>(dims.begin(), dims.end())), DType::F32);
  SV_CHECK_AS(InputError,
              H5Dread(set.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data<float>()) >= 0,
              "{}: cannot read dataset '{}' as f32", path.string(), name);
  return t;
}


}  // namespace sv::io
