// A training dataset as `stepvideo encode-dataset` writes it and `train`
// reads it (README "Training"):
//   DATA_DIR/dataset.json       what encoded it: channels of the latents and
//                               of both text encoders, the latent kind, model
//   DATA_DIR/index-r<R>.jsonl   one record per sample, appended (and fsync'd)
//                               by rank R after the shard holding the sample
//                               is in place; bad items are records too
//   DATA_DIR/shards/*.h5        HDF5: "<slot>.latents" [F, C, H, W] (of a
//                               preference pair: the chosen clip's, and
//                               "<slot>.latents_rejected" the rejected one's),
//                               "<slot>.y" [L, caption], "<slot>.clip"
//                               [Lc, clip], "<slot>.mask" [Lc + L] over
//                               [clip | llm], strings "<slot>.id", ".caption"
//   DATA_DIR/empty_text.h5      the empty caption's encoding (text dropout)
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/tensor.h"

namespace sv::train {

inline constexpr const char* kDatasetFormat = "stepvideo-dataset";

struct DatasetHeader {
  int64_t latent_channels = 0, caption_channels = 0, clip_channels = 0;
  int64_t height = 0, width = 0, frames = 0;  // the pixel size items were cropped to
  // Several clip lengths (encode-dataset --frames 68,136,204): each video
  // became the longest that fits it; `frames` is the longest. Empty: one length.
  std::vector<int64_t> frame_buckets;
  std::string latents = "mean";               // "mean" of the encoder, or "sample"
  uint64_t latent_seed = 0;                   // the draw's seed when "sample"
  std::filesystem::path model;                // absolute
  bool pairs = false;                         // preference pairs (Video-DPO), not samples

  nlohmann::json to_json() const;
  static DatasetHeader from_json(const nlohmann::json& j, const std::filesystem::path& file);
};

struct SampleInfo {
  std::string id, caption;
  std::string shard;  // file name under shards/
  int64_t slot = 0;
  Shape latent_shape;  // [F, C, H, W]
  int64_t text_tokens = 0, clip_tokens = 0;
  bool pair = false;  // a preference pair: latents_rejected too
  // Samples of one bucket can share a batch (same latent and text shapes).
  std::string bucket() const;
};

struct TrainingSample {
  Tensor latents;     // [F, C, H, W]; of a pair, the chosen clip's
  Tensor latents_rejected;  // a pair's rejected clip, shaped as latents; else undefined
  Tensor y, clip;     // [L, caption_channels], [Lc, clip_channels]
  Tensor mask;        // [Lc + L]
};

class Dataset {
 public:
  // InputError naming the directory when it is not a dataset or is empty.
  static Dataset open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const DatasetHeader& header() const { return header_; }
  // Every good sample, sorted by id (the order does not depend on which rank
  // encoded what).
  const std::vector<SampleInfo>& samples() const { return samples_; }
  TrainingSample load(int64_t index) const;
  // The empty caption's [L, ..], [Lc, ..] and mask, for text dropout.
  const TrainingSample& empty_text() const { return empty_text_; }

  static std::filesystem::path header_path(const std::filesystem::path& dir) { return dir / "dataset.json"; }
  static std::filesystem::path index_path(const std::filesystem::path& dir, int rank);
  static std::filesystem::path shard_dir(const std::filesystem::path& dir) { return dir / "shards"; }
  static std::filesystem::path empty_text_path(const std::filesystem::path& dir) { return dir / "empty_text.h5"; }
  // Every record of every rank's index (good and bad), in file order.
  static std::vector<nlohmann::json> index_records(const std::filesystem::path& dir);

 private:
  std::filesystem::path dir_;
  DatasetHeader header_;
  std::vector<SampleInfo> samples_;
  TrainingSample empty_text_;
};

}  // namespace sv::train
