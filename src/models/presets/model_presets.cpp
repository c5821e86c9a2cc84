#include "models/presets/model_presets.h"

#include <unistd.h>

#include <system_error>

#include "core/error.h"
#include "models/presets/tiny_model.h"

namespace sv::presets {

namespace fs = std::filesystem;

const std::vector<ModelPreset>& model_presets() {
  static const std::vector<ModelPreset> presets = {
      {"tiny", "untrained 2-layer DiT, tiny VAE and text encoders (seconds on a laptop)",
       write_tiny_model},
  };
  return presets;
}

const ModelPreset* find_model_preset(std::string_view name) {
  for (const ModelPreset& p : model_presets()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string model_preset_names() {
  std::string names;
  for (const ModelPreset& p : model_presets()) {
    if (!names.empty()) names += ", ";
    names += p.name;
  }
  return names;
}

namespace {

// Removes a directory tree when the owner goes out of scope without release().
class RemoveOnExit {
 public:
  explicit RemoveOnExit(fs::path path) : path_(std::move(path)) {}
  ~RemoveOnExit() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  RemoveOnExit(const RemoveOnExit&) = delete;
  RemoveOnExit& operator=(const RemoveOnExit&) = delete;
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// True if `out` exists and may not be replaced.
bool occupied(const fs::path& out, bool force) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(out, ec);
  if (!fs::exists(st)) return false;
  SV_CHECK_AS(InputError, fs::is_directory(st), "{}: exists and is not a directory", out.string());
  return !force && !fs::is_empty(out, ec);
}

}  // namespace

void init_model_directory(const ModelPreset& preset, const fs::path& out_arg,
                          const InitModelOptions& options) {
  SV_CHECK_AS(InputError, !out_arg.empty(), "init-model: the output directory is empty");
  fs::path out = fs::absolute(out_arg).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();  // "dir/" -> "dir"
  SV_CHECK_AS(InputError, !occupied(out, options.force),
              "{}: directory exists and is not empty (use --force to replace it)", out.string());

  const fs::path parent = out.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  SV_CHECK_AS(InputError, !ec, "{}: cannot create the parent directory: {}", parent.string(),
              ec.message());
  // Built by insert, not "." + name: GCC 12 reports a false -Wrestrict on the latter.
  std::string stem = out.filename().string();
  stem.insert(0, 1, '.');
  const std::string pid = std::to_string(::getpid());
  const fs::path tmp = parent / (stem + ".tmp." + pid);
  fs::remove_all(tmp, ec);
  SV_CHECK_AS(InputError, fs::create_directory(tmp, ec) && !ec,
              "{}: cannot create a directory beside the output: {}", tmp.string(),
              ec ? ec.message() : "it exists");
  RemoveOnExit remove_tmp(tmp);
  preset.write(tmp, options.seed);

  // Checked again: something may have appeared while the model was written.
  SV_CHECK_AS(InputError, !occupied(out, options.force),
              "{}: directory exists and is not empty (use --force to replace it)", out.string());
  fs::path old;
  if (fs::exists(fs::symlink_status(out, ec))) {
    old = parent / (stem + ".old." + pid);
    fs::rename(out, old, ec);
    SV_CHECK_AS(InputError, !ec, "{}: cannot move the existing directory aside: {}",
                out.string(), ec.message());
  }
  RemoveOnExit remove_old(old);
  fs::rename(tmp, out, ec);
  if (ec && !old.empty()) {
    std::error_code restore;
    fs::rename(old, out, restore);
    if (!restore) remove_old.release();
  }
  SV_CHECK_AS(InputError, !ec, "{}: cannot rename {} to it: {}", out.string(), tmp.string(),
              ec.message());
  remove_tmp.release();
}

}  // namespace sv::presets
