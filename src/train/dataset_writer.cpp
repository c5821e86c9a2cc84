#include "train/dataset_writer.h"

#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/hdf5_tensors.h"

namespace sv::train {

namespace fs = std::filesystem;
using nlohmann::json;

DatasetWriter::DatasetWriter(fs::path dir, int rank, int64_t shard_size)
    : dir_(std::move(dir)), rank_(rank), shard_size_(shard_size) {
  SV_CHECK_AS(InputError, shard_size >= 1, "--shard-size must be at least 1, got {}", shard_size);
  fs::create_directories(Dataset::shard_dir(dir_));
  // Continue this rank's shard numbering after what is there (indexed or not:
  // a shard written just before a crash is never reused, only orphaned).
  const std::regex name(fmt::format(R"(shard-r{}-(\d+)\.h5)", rank_));
  for (const auto& entry : fs::directory_iterator(Dataset::shard_dir(dir_))) {
    std::smatch m;
    const std::string file = entry.path().filename().string();
    if (std::regex_match(file, m, name)) next_shard_ = std::max<int64_t>(next_shard_, std::stoll(m[1].str()) + 1);
  }
  index_ = std::make_unique<jobs::Journal>(Dataset::index_path(dir_, rank_));
}

DatasetWriter::~DatasetWriter() = default;

void DatasetWriter::add(EncodedSample sample) {
  pending_.push_back(std::move(sample));
  if (static_cast<int64_t>(pending_.size()) >= shard_size_) flush();
}

void DatasetWriter::add_bad(const std::string& id, const std::string& reason) {
  index_->append(json{{"event", "bad"}, {"id", id}, {"status", "bad"}, {"reason", reason}});
}

void DatasetWriter::flush() {
  if (pending_.empty()) return;
  const std::string shard = fmt::format("shard-r{}-{:05}.h5", rank_, next_shard_++);
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::vector<std::pair<std::string, std::string>> strings;
  for (size_t slot = 0; slot < pending_.size(); ++slot) {
    const EncodedSample& s = pending_[slot];
    const std::string k = std::to_string(slot);
    tensors.emplace_back(k + ".latents", s.data.latents);
    if (s.data.latents_rejected.defined()) tensors.emplace_back(k + ".latents_rejected", s.data.latents_rejected);
    tensors.emplace_back(k + ".y", s.data.y);
    tensors.emplace_back(k + ".clip", s.data.clip);
    tensors.emplace_back(k + ".mask", s.data.mask);
    strings.emplace_back(k + ".id", s.id);
    strings.emplace_back(k + ".caption", s.caption);
  }
  io::write_hdf5(Dataset::shard_dir(dir_) / shard, tensors, strings);
  for (size_t slot = 0; slot < pending_.size(); ++slot) {
    const EncodedSample& s = pending_[slot];
    json record{{"event", "sample"},
                {"id", s.id},
                {"status", "ok"},
                {"caption", s.caption},
                {"shard", shard},
                {"slot", slot},
                {"latent_shape", s.data.latents.shape().dims()},
                {"text_tokens", s.data.y.dim(0)},
                {"clip_tokens", s.data.clip.dim(0)}};
    if (s.data.latents_rejected.defined()) record["pair"] = true;
    index_->append(record);
  }
  pending_.clear();
}

std::set<std::string> DatasetWriter::finished_ids(const fs::path& dir) {
  std::set<std::string> ids;
  for (const json& r : Dataset::index_records(dir)) {
    if (r.contains("id") && r["id"].is_string()) ids.insert(r["id"].get<std::string>());
  }
  return ids;
}

}  // namespace sv::train
