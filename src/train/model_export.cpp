#include "train/model_export.h"

#include <unistd.h>

#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "io/durable_file.h"
#include "io/safetensors.h"
#include "io/sharded_safetensors.h"
#include "models/dit/dit_model.h"
#include "models/model_directory.h"
#include "parallel/parallel_groups.h"
#include "train/train_checkpoint.h"
#include "train/vae_trainer.h"

namespace sv::train {

namespace fs = std::filesystem;

namespace {

// Shards of about 2 GiB, as the release's are.
constexpr size_t kShardBytes = size_t{2} << 30;

// One checkpoint's transformer tensors (master or EMA) in the base model's
// declaration (state_dict) order, checked against it by name and shape.
std::vector<std::pair<std::string, Tensor>> transformer_tensors(const CheckpointContents& c, const fs::path& file,
                                                                bool ema, const fs::path& base) {
  const std::map<std::string, Tensor>& source = ema ? c.ema : c.weights;
  SV_CHECK_AS(InputError, !source.empty(), "{}: {}", file.string(),
              ema ? "holds no EMA weights (the run had --ema-decay 0)" : "holds no weights");
  const DitModel declared(DitConfig::from_file(base / "transformer" / "config.json"), ParallelGroups::single());
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& p : declared.registry().parameters()) {
    const auto it = source.find(p->name);
    SV_CHECK_AS(CheckpointError, it != source.end() && it->second.shape() == p->full_shape,
                "{}: does not fit its base model {}: {} is {} in the checkpoint, {} in the model", file.string(),
                base.string(), p->name, it == source.end() ? "missing" : it->second.shape().str(), p->full_shape.str());
    out.emplace_back(p->name, it->second);
  }
  SV_CHECK_AS(CheckpointError, out.size() == source.size(), "{}: holds {} transformer tensors, its base model {} has {}",
              file.string(), source.size(), base.string(), out.size());
  return out;
}

// The element-wise mean of the checkpoints' tensors (summed in double, in
// the order given), each checked against the first checkpoint's base model.
struct Averaged {
  std::vector<std::pair<std::string, Tensor>> tensors;  // f32
  fs::path base;
  std::vector<int64_t> steps;
  TrainConfig config;  // the first checkpoint's
};

Averaged average(const ExportOptions& o) {
  SV_CHECK_AS(InputError, !o.checkpoints.empty(), "no checkpoint given");
  Averaged a;
  std::vector<std::vector<double>> sums;
  for (size_t k = 0; k < o.checkpoints.size(); ++k) {
    const fs::path& file = o.checkpoints[k];
    const CheckpointContents c = read_train_checkpoint(file, CheckpointParts::Weights);
    if (k == 0) {
      a.base = c.config.model;
      a.config = c.config;
      check_model_directory(a.base);
    }
    SV_CHECK_AS(InputError, c.config.model == a.base, "{}: trained from {}, but {} from {}: average checkpoints of one "
                "model", file.string(), c.config.model.string(), o.checkpoints.front().string(), a.base.string());
    a.steps.push_back(c.progress.step);
    auto tensors = transformer_tensors(c, file, o.ema, a.base);
    if (o.checkpoints.size() == 1) {  // plain export: no double copy of a large model
      a.tensors = std::move(tensors);
      return a;
    }
    if (k == 0) {
      for (const auto& [name, t] : tensors) {
        a.tensors.emplace_back(name, Tensor::empty(t.shape(), DType::F32));
        sums.emplace_back(static_cast<size_t>(t.numel()), 0.0);
      }
    }
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor f = tensors[i].second.to(DType::F32).contiguous();
      const float* v = f.data<float>();
      for (size_t e = 0; e < sums[i].size(); ++e) sums[i][e] += v[e];
    }
  }
  const auto n = static_cast<double>(o.checkpoints.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    float* out = a.tensors[i].second.data<float>();
    for (size_t e = 0; e < sums[i].size(); ++e) out[e] = static_cast<float>(sums[i][e] / n);
  }
  return a;
}

// Every component directory but the weights of `replaced` ("transformer" or
// "vae"; its config.json is kept), hard-linked where the filesystem allows
// (weights are large and never modified in place), else copied.
void copy_components(const fs::path& base, const fs::path& dir, const std::string& replaced) {
  for (const auto& entry : fs::recursive_directory_iterator(base)) {
    const fs::path rel = fs::relative(entry.path(), base);
    const std::string first = rel.begin()->string();
    // The base's own top-level notes (README, provenance) describe other weights.
    if (std::distance(rel.begin(), rel.end()) == 1 && entry.is_regular_file()) continue;
    if (first == replaced && rel.filename() != "config.json" && entry.is_regular_file()) continue;
    if (entry.is_directory()) {
      fs::create_directories(dir / rel);
      continue;
    }
    if (!entry.is_regular_file()) continue;
    fs::create_directories((dir / rel).parent_path());
    std::error_code ec;
    fs::create_hard_link(entry.path(), dir / rel, ec);
    if (ec) fs::copy_file(entry.path(), dir / rel);
  }
}

// Builds the model directory under a temporary name beside `out` with
// fill(tmp), then renames it into place (replacing `out` when asked).
void write_model_directory(const ExportOptions& o, const std::function<void(const fs::path& tmp)>& fill) {
  const fs::path parent = o.out.has_parent_path() ? o.out.parent_path() : fs::path(".");
  fs::create_directories(parent);
  const fs::path tmp = io::temporary_path_for(o.out);
  fs::remove_all(tmp);
  try {
    fill(tmp);
    if (o.overwrite) fs::remove_all(o.out);
    fs::rename(tmp, o.out);
    io::fsync_directory(parent);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw;
  }
}

// A VAE training checkpoint (train --component vae): the base model with its
// vae/vae_v2.safetensors replaced by the checkpoint's weights.
void export_vae(const ExportOptions& o) {
  SV_CHECK_AS(InputError, o.checkpoints.size() == 1,
              "{}: VAE checkpoints are exported one at a time (averaging is for the DiT's)",
              o.checkpoints.front().string());
  SV_CHECK_AS(InputError, !o.ema, "{}: a VAE run keeps no EMA weights; leave out --ema",
              o.checkpoints.front().string());
  const fs::path& file = o.checkpoints.front();
  VaeCheckpoint c = read_vae_checkpoint_weights(file);
  const fs::path& base = c.config.model;
  check_model_directory(base);
  const std::unique_ptr<VaeModel> declared = load_vae(base, VaeParts::Both);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& p : declared->registry().parameters()) {
    const auto it = c.weights.find(p->name);
    SV_CHECK_AS(CheckpointError, it != c.weights.end() && it->second.shape() == p->full_shape,
                "{}: does not fit its base model {}: {} is {} in the checkpoint, {} in the model", file.string(),
                base.string(), p->name, it == c.weights.end() ? "missing" : it->second.shape().str(),
                p->full_shape.str());
    tensors.emplace_back(p->name, it->second.to(o.dtype));
  }
  SV_CHECK_AS(CheckpointError, tensors.size() == c.weights.size(), "{}: holds {} VAE tensors, its base model {} has {}",
              file.string(), c.weights.size(), base.string(), tensors.size());
  write_model_directory(o, [&](const fs::path& tmp) {
    copy_components(base, tmp, "vae");
    io::write_safetensors(tmp / "vae" / "vae_v2.safetensors", tensors);
    const nlohmann::json provenance{{"exported_by", "stepvideo export"},
                                    {"checkpoint", fs::absolute(file).string()},
                                    {"step", c.step},
                                    {"component", "vae"},
                                    {"dtype", dtype_name(o.dtype)},
                                    {"base_model", base.string()},
                                    {"train_config", c.config.to_json()}};
    io::write_text_atomic(tmp / "stepvideo-export.json", provenance.dump(2) + "\n");
  });
  log_info("exported {} (the Video-VAE of step {}, {}) to {}", file.string(), c.step, dtype_name(o.dtype),
           o.out.string());
}

}  // namespace

void export_model(const ExportOptions& o) {
  SV_CHECK_AS(InputError, o.dtype == DType::BF16 || o.dtype == DType::F32, "--dtype must be bf16 or f32");
  SV_CHECK_AS(InputError, o.overwrite || !fs::exists(o.out),
              "{}: already exists; pass --overwrite to replace it (nothing was written)", o.out.string());
  SV_CHECK_AS(InputError, !o.checkpoints.empty(), "no checkpoint given");
  if (is_vae_checkpoint(o.checkpoints.front())) return export_vae(o);
  Averaged a = average(o);
  const fs::path& base = a.base;
  for (auto& [name, t] : a.tensors) t = t.to(o.dtype);
  const std::vector<std::pair<std::string, Tensor>>& tensors = a.tensors;

  write_model_directory(o, [&](const fs::path& tmp) {
    copy_components(base, tmp, "transformer");
    size_t bytes = 0;
    for (const auto& [name, t] : tensors) bytes += t.nbytes();
    const int shards = static_cast<int>(std::max<size_t>(1, (bytes + kShardBytes - 1) / kShardBytes));
    io::write_sharded_safetensors(tmp / "transformer", "diffusion_pytorch_model", tensors, shards);
    nlohmann::json provenance{{"exported_by", o.checkpoints.size() == 1 ? "stepvideo export"
                                                                         : "stepvideo average-checkpoints"},
                              {"checkpoint", fs::absolute(o.checkpoints.front()).string()},
                              {"step", a.steps.front()},
                              {"weights", o.ema ? "ema" : "master"},
                              {"dtype", dtype_name(o.dtype)},
                              {"base_model", base.string()},
                              {"train_config", a.config.to_json()}};
    if (o.checkpoints.size() > 1) {
      nlohmann::json averaged = nlohmann::json::array();
      for (size_t k = 0; k < o.checkpoints.size(); ++k) {
        averaged.push_back({{"checkpoint", fs::absolute(o.checkpoints[k]).string()}, {"step", a.steps[k]}});
      }
      provenance["averaged"] = averaged;
    }
    io::write_text_atomic(tmp / "stepvideo-export.json", provenance.dump(2) + "\n");
  });
  if (o.checkpoints.size() == 1) {
    log_info("exported {} ({} weights of step {}, {}) to {}", o.checkpoints.front().string(),
             o.ema ? "EMA" : "master", a.steps.front(), dtype_name(o.dtype), o.out.string());
  } else {
    log_info("averaged the {} weights of {} checkpoints (steps {}) into {} ({})", o.ema ? "EMA" : "master",
             o.checkpoints.size(), fmt::join(a.steps, ", "), o.out.string(), dtype_name(o.dtype));
  }
}

}  // namespace sv::train
