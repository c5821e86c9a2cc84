#include "models/presets/model_presets.h"

#include <unistd.h>

#include <fstream>
#include <set>
#include <system_error>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"
#include "models/presets/tiny_model.h"

namespace sv::presets {

namespace fs = std::filesystem;

const std::vector<ModelPreset>& model_presets() {
  static const std::vector<ModelPreset> presets = {
      {"tiny", "the default: 2-layer DiT, tiny VAE and text encoders trained on the shapes world (seconds on a "
               "laptop); tiny-random's weights while models/tiny/ bundles none",
       write_trained_tiny_model},
      {"tiny-random", "the tiny architecture with random weights: the machinery, fast, no picture (tests)",
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

// Every file and directory under `dir`, relative to it, in a stable order.
std::set<std::string> tree_of(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    names.insert(e.path().lexically_relative(dir).generic_string());
  }
  return names;
}

// Records what init-model wrote, so that --force can later tell this
// directory from any other (a user's files are never removed).
void write_marker(const fs::path& dir, const ModelPreset& preset, uint64_t seed) {
  nlohmann::ordered_json marker;
  marker["written_by"] = "stepvideo init-model";
  marker["preset"] = std::string(preset.name);
  marker["seed"] = seed;
  marker["entries"] = tree_of(dir);
  std::ofstream f(dir / kInitModelMarker);
  f << marker.dump(2) << "\n";
  SV_CHECK_AS(InputError, f.good(), "{}: cannot write {}", dir.string(), kInitModelMarker);
}

std::string first_few(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < 3; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > 3) s += fmt::format(" and {} more", names.size() - 3);
  return s;
}

// Throws unless `out` may be (re)placed: absent, empty, or (with force) a
// model directory that init-model wrote and nobody added to since.
void check_replaceable(const fs::path& out, bool force) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(out, ec);
  if (!fs::exists(st)) return;
  SV_CHECK_AS(InputError, fs::is_directory(st), "{}: exists and is not a directory", out.string());
  if (fs::is_empty(out, ec)) return;
  SV_CHECK_AS(InputError, force,
              "{}: directory exists and is not empty (--force replaces a model directory that init-model wrote)",
              out.string());
  const fs::path marker_path = out / kInitModelMarker;
  SV_CHECK_AS(InputError, fs::is_regular_file(marker_path, ec),
              "{}: not a model directory written by init-model (no {}): --force replaces only those; "
              "nothing was changed",
              out.string(), kInitModelMarker);
  std::set<std::string> written;
  try {
    const nlohmann::json marker = io::read_json_file(marker_path);
    for (const auto& e : marker.at("entries")) written.insert(e.get<std::string>());
  } catch (const std::exception& e) {
    throw InputError(fmt::format("{}: unreadable ({}): --force replaces only model directories init-model "
                                 "wrote; nothing was changed",
                                 marker_path.string(), e.what()));
  }
  std::vector<std::string> foreign;
  for (const std::string& name : tree_of(out)) {
    if (name != kInitModelMarker && !written.count(name)) foreign.push_back(name);
  }
  SV_CHECK_AS(InputError, foreign.empty(),
              "{}: holds {} file(s) init-model did not write ({}): move them away first; nothing was changed",
              out.string(), foreign.size(), first_few(foreign));
}

}  // namespace

void init_model_directory(const ModelPreset& preset, const fs::path& out_arg,
                          const InitModelOptions& options) {
  SV_CHECK_AS(InputError, !out_arg.empty(), "init-model: the output directory is empty");
  fs::path out = fs::absolute(out_arg).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();  // "dir/" -> "dir"
  check_replaceable(out, options.force);

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
  write_marker(tmp, preset, options.seed);

  // Checked again: something may have appeared while the model was written.
  check_replaceable(out, options.force);
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
