#include "train/model_export.h"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "io/durable_file.h"
#include "io/sharded_safetensors.h"
#include "models/dit/dit_model.h"
#include "models/model_directory.h"
#include "parallel/parallel_groups.h"
#include "train/train_checkpoint.h"

namespace sv::train {

namespace fs = std::filesystem;

namespace {

// Shards of about 2 GiB, as the release's are.
constexpr size_t kShardBytes = size_t{2} << 30;

// The transformer's tensors in the base model's declaration (state_dict)
// order, checked against it by name and shape.
std::vector<std::pair<std::string, Tensor>> transformer_tensors(const CheckpointContents& c, const ExportOptions& o,
                                                                const fs::path& base) {
  const std::map<std::string, Tensor>& source = o.ema ? c.ema : c.weights;
  SV_CHECK_AS(InputError, !source.empty(), "{}: {}", o.checkpoint.string(),
              o.ema ? "holds no EMA weights (the run had --ema-decay 0)" : "holds no weights");
  const DitModel declared(DitConfig::from_file(base / "transformer" / "config.json"), ParallelGroups::single());
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& p : declared.registry().parameters()) {
    const auto it = source.find(p->name);
    SV_CHECK_AS(CheckpointError, it != source.end() && it->second.shape() == p->full_shape,
                "{}: does not fit its base model {}: {} is {} in the checkpoint, {} in the model", o.checkpoint.string(),
                base.string(), p->name, it == source.end() ? "missing" : it->second.shape().str(), p->full_shape.str());
    out.emplace_back(p->name, it->second.to(o.dtype));
  }
  SV_CHECK_AS(CheckpointError, out.size() == source.size(), "{}: holds {} transformer tensors, its base model {} has {}",
              o.checkpoint.string(), source.size(), base.string(), out.size());
  return out;
}

// Every component directory but the transformer's weights, hard-linked where the
// filesystem allows (weights are large and never modified in place), else copied.
void copy_components(const fs::path& base, const fs::path& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(base)) {
    const fs::path rel = fs::relative(entry.path(), base);
    const std::string first = rel.begin()->string();
    // The base's own top-level notes (README, provenance) describe other weights.
    if (std::distance(rel.begin(), rel.end()) == 1 && entry.is_regular_file()) continue;
    if (first == "transformer" && rel.filename() != "config.json" && entry.is_regular_file()) continue;
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

}  // namespace

void export_model(const ExportOptions& o) {
  SV_CHECK_AS(InputError, o.dtype == DType::BF16 || o.dtype == DType::F32, "--dtype must be bf16 or f32");
  SV_CHECK_AS(InputError, o.overwrite || !fs::exists(o.out),
              "{}: already exists; pass --overwrite to replace it (nothing was written)", o.out.string());
  const CheckpointContents c = read_train_checkpoint(o.checkpoint);
  const fs::path base = c.config.model;
  check_model_directory(base);
  const std::vector<std::pair<std::string, Tensor>> tensors = transformer_tensors(c, o, base);

  const fs::path parent = o.out.has_parent_path() ? o.out.parent_path() : fs::path(".");
  fs::create_directories(parent);
  const fs::path tmp = io::temporary_path_for(o.out);
  fs::remove_all(tmp);
  try {
    copy_components(base, tmp);
    size_t bytes = 0;
    for (const auto& [name, t] : tensors) bytes += t.nbytes();
    const int shards = static_cast<int>(std::max<size_t>(1, (bytes + kShardBytes - 1) / kShardBytes));
    io::write_sharded_safetensors(tmp / "transformer", "diffusion_pytorch_model", tensors, shards);
    const nlohmann::json provenance{{"exported_by", "stepvideo export"},
                                    {"checkpoint", fs::absolute(o.checkpoint).string()},
                                    {"step", c.progress.step},
                                    {"weights", o.ema ? "ema" : "master"},
                                    {"dtype", dtype_name(o.dtype)},
                                    {"base_model", base.string()},
                                    {"train_config", c.config.to_json()}};
    io::write_text_atomic(tmp / "stepvideo-export.json", provenance.dump(2) + "\n");
    if (o.overwrite) fs::remove_all(o.out);
    fs::rename(tmp, o.out);
    io::fsync_directory(parent);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw;
  }
  log_info("exported {} ({} weights of step {}, {}) to {}", o.checkpoint.string(), o.ema ? "EMA" : "master",
           c.progress.step, dtype_name(o.dtype), o.out.string());
}

}  // namespace sv::train
