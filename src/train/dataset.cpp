#include "train/dataset.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/hdf5_tensors.h"
#include "io/json_file.h"
#include "jobs/journal.h"

namespace sv::train {

namespace fs = std::filesystem;
using nlohmann::json;

nlohmann::json DatasetHeader::to_json() const {
  json j{{"format", kDatasetFormat},
         {"version", 1},
         {"latent_channels", latent_channels},
         {"caption_channels", caption_channels},
         {"clip_channels", clip_channels},
         {"height", height},
         {"width", width},
         {"frames", frames},
         {"latents", latents},
         {"latent_seed", latent_seed},
         {"model", model.string()},
         {"kind", pairs ? "pairs" : "samples"}};
  if (!frame_buckets.empty()) j["frame_buckets"] = frame_buckets;  // absent for one length, as before
  return j;
}

DatasetHeader DatasetHeader::from_json(const nlohmann::json& j, const fs::path& file) {
  SV_CHECK_AS(InputError, j.is_object() && j.value("format", "") == kDatasetFormat,
              "{}: not a stepvideo dataset header (format is not \"{}\")", file.string(), kDatasetFormat);
  DatasetHeader h;
  h.latent_channels = io::json_require<int64_t>(j, "latent_channels", file);
  h.caption_channels = io::json_require<int64_t>(j, "caption_channels", file);
  h.clip_channels = io::json_require<int64_t>(j, "clip_channels", file);
  h.height = io::json_require<int64_t>(j, "height", file);
  h.width = io::json_require<int64_t>(j, "width", file);
  h.frames = io::json_require<int64_t>(j, "frames", file);
  h.frame_buckets = io::json_optional<std::vector<int64_t>>(j, "frame_buckets", file, {});
  h.latents = io::json_require<std::string>(j, "latents", file);
  h.latent_seed = io::json_optional<uint64_t>(j, "latent_seed", file, 0);
  h.model = io::json_require<std::string>(j, "model", file);
  const std::string kind = io::json_optional<std::string>(j, "kind", file, "samples");  // absent before DPO
  SV_CHECK_AS(InputError, kind == "samples" || kind == "pairs", "{}: kind '{}' (samples or pairs)", file.string(), kind);
  h.pairs = kind == "pairs";
  return h;
}

std::string SampleInfo::bucket() const {
  return fmt::format("{}x{}x{}x{} text {}+{}", latent_shape[0], latent_shape[1], latent_shape[2], latent_shape[3],
                     clip_tokens, text_tokens);
}

fs::path Dataset::index_path(const fs::path& dir, int rank) {
  return dir / fmt::format("index-r{}.jsonl", rank);
}

std::vector<json> Dataset::index_records(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("index-r") && name.ends_with(".jsonl")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<json> records;
  for (const fs::path& f : files) {
    for (json& r : jobs::Journal::read(f)) records.push_back(std::move(r));
  }
  return records;
}

namespace {

SampleInfo sample_from(const json& r, const fs::path& index_dir) {
  const fs::path where = index_dir / "index-r*.jsonl";
  SampleInfo s;
  s.id = io::json_require<std::string>(r, "id", where);
  s.caption = io::json_require<std::string>(r, "caption", where);
  s.shard = io::json_require<std::string>(r, "shard", where);
  s.slot = io::json_require<int64_t>(r, "slot", where);
  s.latent_shape = Shape(io::json_require<std::vector<int64_t>>(r, "latent_shape", where));
  s.text_tokens = io::json_require<int64_t>(r, "text_tokens", where);
  s.clip_tokens = io::json_require<int64_t>(r, "clip_tokens", where);
  s.pair = io::json_optional<bool>(r, "pair", where, false);
  SV_CHECK_AS(InputError, s.latent_shape.rank() == 4, "{}: sample '{}' has latent shape {}, expected [F, C, H, W]",
              where.string(), s.id, s.latent_shape.str());
  return s;
}

TrainingSample read_sample(const fs::path& file, const std::string& slot, bool pair) {
  TrainingSample s;
  s.latents = io::read_hdf5(file, slot + ".latents");
  if (pair) s.latents_rejected = io::read_hdf5(file, slot + ".latents_rejected");
  s.y = io::read_hdf5(file, slot + ".y");
  s.clip = io::read_hdf5(file, slot + ".clip");
  s.mask = io::read_hdf5(file, slot + ".mask");
  return s;
}

// The empty caption's encoding: "y", "clip", "mask" (no latents).
TrainingSample read_sample_text(const fs::path& file) {
  SV_CHECK_AS(InputError, fs::is_regular_file(file), "{}: missing (the dataset was not finished by encode-dataset)",
              file.string());
  TrainingSample s;
  s.y = io::read_hdf5(file, "y");
  s.clip = io::read_hdf5(file, "clip");
  s.mask = io::read_hdf5(file, "mask");
  return s;
}

}  // namespace

Dataset Dataset::open(const fs::path& dir) {
  SV_CHECK_AS(InputError, fs::is_regular_file(header_path(dir)),
              "{}: not a dataset (no dataset.json; make one with stepvideo encode-dataset)", dir.string());
  Dataset d;
  d.dir_ = dir;
  d.header_ = DatasetHeader::from_json(io::read_json_file(header_path(dir)), header_path(dir));
  for (const json& r : index_records(dir)) {
    if (r.value("status", "") != "ok") continue;
    d.samples_.push_back(sample_from(r, dir));
  }
  std::sort(d.samples_.begin(), d.samples_.end(), [](const SampleInfo& a, const SampleInfo& b) { return a.id < b.id; });
  const auto dup = std::adjacent_find(d.samples_.begin(), d.samples_.end(),
                                      [](const SampleInfo& a, const SampleInfo& b) { return a.id == b.id; });
  SV_CHECK_AS(InputError, dup == d.samples_.end(), "{}: sample id '{}' is indexed twice", dir.string(),
              dup == d.samples_.end() ? "" : dup->id);
  SV_CHECK_AS(InputError, !d.samples_.empty(), "{}: the dataset holds no samples (every item failed, or none was encoded)",
              dir.string());
  for (const SampleInfo& s : d.samples_) {
    SV_CHECK_AS(InputError, s.pair == d.header_.pairs, "{}: sample '{}' is {} in a dataset of {}", dir.string(), s.id,
                s.pair ? "a preference pair" : "a single clip", d.header_.pairs ? "preference pairs" : "samples");
  }
  d.empty_text_ = read_sample_text(empty_text_path(dir));
  return d;
}

TrainingSample Dataset::load(int64_t index) const {
  SV_CHECK(index >= 0 && index < static_cast<int64_t>(samples_.size()), "dataset sample {} of {}", index,
           samples_.size());
  const SampleInfo& info = samples_[static_cast<size_t>(index)];
  TrainingSample s = read_sample(shard_dir(dir_) / info.shard, std::to_string(info.slot), info.pair);
  SV_CHECK_AS(InputError, s.latents.shape() == info.latent_shape && s.y.rank() == 2 && s.y.dim(0) == info.text_tokens &&
                              (!info.pair || s.latents_rejected.shape() == info.latent_shape) &&
                              s.clip.rank() == 2 && s.clip.dim(0) == info.clip_tokens &&
                              s.mask.numel() == info.clip_tokens + info.text_tokens,
              "{}: sample '{}' (slot {}) does not match its index record", info.shard, info.id, info.slot);
  return s;
}

}  // namespace sv::train
