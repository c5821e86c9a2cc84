#include "train/train_checkpoint.h"

#include <algorithm>
#include <regex>
#include <string_view>

#include <fmt/format.h>

#include "core/error.h"
#include "io/hdf5_tensors.h"
#include "layers/shard_tensors.h"

namespace sv::train {

namespace fs = std::filesystem;
using nlohmann::json;

void write_train_checkpoint(const fs::path& path, const ParameterRegistry& registry, const AdamW& adamw,
                            const std::map<std::string, Tensor>& ema, const TrainProgress& progress,
                            const TrainConfig& config) {
  CheckpointContents c;
  for (const auto& p : registry.parameters()) {
    SV_CHECK(p->local && p->value.defined() && p->shard.is_replicated(), "checkpoint: {} is not held whole here",
             p->name);
    c.weights[p->name] = p->value;
  }
  for (const auto& [name, m] : adamw.all_moments()) c.moments[name] = m;
  c.ema = ema;
  c.progress = progress;
  c.config = config;
  c.adamw_steps = adamw.steps_taken();
  write_train_checkpoint(path, c);
}

void write_checkpoint_file(const fs::path& path, const CheckpointContents& contents, const json& state) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : contents.weights) tensors.emplace_back("weight." + name, t);
  for (const auto& [name, m] : contents.moments) {
    tensors.emplace_back("exp_avg." + name, m.exp_avg);
    tensors.emplace_back("exp_avg_sq." + name, m.exp_avg_sq);
  }
  for (const auto& [name, t] : contents.ema) tensors.emplace_back("ema." + name, t);
  for (const auto& [name, t] : contents.reference) tensors.emplace_back("reference." + name, t);
  io::write_hdf5(path, tensors, {{"state", state.dump()}});
}

void write_train_checkpoint(const fs::path& path, const CheckpointContents& contents) {
  const TrainProgress& progress = contents.progress;
  const TrainConfig& config = contents.config;
  const json state{{"format", kCheckpointFormat},
                   {"version", 1},
                   {"step", progress.step},
                   {"skipped_steps", progress.skipped_steps},
                   {"bad_in_a_row", progress.bad_in_a_row},
                   {"loader", {{"epoch", progress.epoch}, {"next_step", progress.step}}},
                   {"generator",
                    {{"kind", "philox4x32-10, keyed by (seed, step, position in the global batch)"},
                     {"seed", config.seed}}},
                   {"adamw_steps", contents.adamw_steps},
                   {"config", config.to_json()},
                   {"model", config.model.string()}};
  write_checkpoint_file(path, contents, state);
}

json read_checkpoint_state(const fs::path& path, std::string_view format) {
  json state;
  try {
    state = json::parse(io::read_hdf5_string(path, "state"));
  } catch (const json::exception& e) {
    throw InputError(fmt::format("{}: its state record is not JSON: {}", path.string(), e.what()));
  }
  SV_CHECK_AS(InputError, state.is_object() && state.value("format", "") == format, "{}: not a {} file",
              path.string(), format);
  return state;
}

CheckpointContents read_train_checkpoint(const fs::path& path, CheckpointParts parts) {
  CheckpointContents c;
  const json state = read_checkpoint_state(path, kCheckpointFormat);
  c.progress.step = state.at("step").get<int64_t>();
  c.progress.skipped_steps = state.at("skipped_steps").get<int64_t>();
  c.progress.bad_in_a_row = state.at("bad_in_a_row").get<int64_t>();
  c.progress.epoch = state.at("loader").at("epoch").get<int64_t>();
  c.adamw_steps = state.at("adamw_steps").get<int64_t>();
  c.config = TrainConfig::from_json(state.at("config"), path);
  read_checkpoint_tensors(path, parts, c);
  return c;
}

void read_checkpoint_tensors(const fs::path& path, CheckpointParts parts, CheckpointContents& c) {
  for (const std::string& name : io::hdf5_dataset_names(path)) {
    auto take = [&](std::string_view prefix) -> std::optional<std::string> {
      if (!name.starts_with(prefix)) return std::nullopt;
      return name.substr(prefix.size());
    };
    if (auto p = take("weight.")) {
      c.weights[*p] = io::read_hdf5(path, name);
    } else if (parts == CheckpointParts::Weights && !name.starts_with("ema.")) {
      continue;  // the optimizer's and DPO's state: not needed to export
    } else if (auto q = take("exp_avg_sq.")) {
      c.moments[*q].exp_avg_sq = io::read_hdf5(path, name);
    } else if (auto r = take("exp_avg.")) {
      c.moments[*r].exp_avg = io::read_hdf5(path, name);
    } else if (auto e = take("ema.")) {
      c.ema[*e] = io::read_hdf5(path, name);
    } else if (auto f = take("reference.")) {
      c.reference[*f] = io::read_hdf5(path, name);
    }
  }
  for (const auto& [name, m] : c.moments) {
    SV_CHECK_AS(InputError, m.exp_avg.defined() && m.exp_avg_sq.defined(), "{}: the AdamW moments of {} are incomplete",
                path.string(), name);
  }
}

void load_checkpoint_weights(ParameterRegistry& registry, const CheckpointContents& c, const fs::path& path) {
  for (const auto& p : registry.parameters()) {
    const auto it = c.weights.find(p->name);
    SV_CHECK_AS(CheckpointError, it != c.weights.end() && it->second.shape() == p->full_shape,
                "{}: a checkpoint of another model: {} is {} there, the model has {}", path.string(), p->name,
                it == c.weights.end() ? "missing" : it->second.shape().str(), p->full_shape.str());
    if (p->local) p->value.copy_from(take_shard(it->second, p->shard));
  }
  SV_CHECK_AS(CheckpointError, c.weights.size() == registry.parameters().size(),
              "{}: a checkpoint of another model: it holds {} weights, the model {}", path.string(), c.weights.size(),
              registry.parameters().size());
}

std::map<std::string, AdamWMoments, std::less<>> local_moments(
    const ParameterRegistry& registry, std::map<std::string, AdamWMoments, std::less<>> full) {
  for (auto it = full.begin(); it != full.end();) {
    const Parameter* p = registry.find(it->first);
    SV_CHECK_AS(CheckpointError, p, "checkpoint: AdamW moments of {}, which the model does not have", it->first);
    if (!p->local) {  // another pipeline stage's
      it = full.erase(it);
      continue;
    }
    it->second.exp_avg = take_shard(it->second.exp_avg, p->shard);
    it->second.exp_avg_sq = take_shard(it->second.exp_avg_sq, p->shard);
    ++it;
  }
  return full;
}

std::map<std::string, Tensor> local_tensors(const ParameterRegistry& registry, std::map<std::string, Tensor> full) {
  for (auto it = full.begin(); it != full.end();) {
    const Parameter* p = registry.find(it->first);
    SV_CHECK_AS(CheckpointError, p, "checkpoint: EMA weights of {}, which the model does not have", it->first);
    if (!p->local) {
      it = full.erase(it);
      continue;
    }
    it->second = take_shard(it->second, p->shard);
    ++it;
  }
  return full;
}

fs::path checkpoint_path(const fs::path& run_dir, int64_t step) {
  return run_dir / "checkpoints" / fmt::format("step-{}.h5", step);
}

std::vector<std::pair<int64_t, fs::path>> list_checkpoints(const fs::path& run_dir) {
  static const std::regex kName(R"(step-(\d+)\.h5)");
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run_dir / "checkpoints", ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, kName)) found.emplace_back(std::stoll(m[1].str()), entry.path());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return found;
}

}  // namespace sv::train
