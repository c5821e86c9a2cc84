#include "models/model_directory.h"
#include "models/model_sampling.h"

#include <algorithm>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "layers/weight_loader.h"

namespace sv {

namespace fs = std::filesystem;

void check_model_directory(const fs::path& model_dir) {
  SV_CHECK_AS(InputError, fs::is_directory(model_dir), "{}: model directory does not exist",
              model_dir.string());
  for (const char* part : {"transformer", "vae", "step_llm", "hunyuan_clip"}) {
    SV_CHECK_AS(InputError, fs::is_directory(model_dir / part),
                "{}: not a model directory (no {}/ folder; expected the release layout "
                "transformer/, vae/, step_llm/, hunyuan_clip/ — `stepvideo init-model` writes one)",
                model_dir.string(), part);
  }
}

void check_vae_files(const fs::path& model_dir) {
  const fs::path dir = model_dir / "vae";
  const fs::path config_file = dir / "config.json";
  if (fs::exists(config_file)) (void)VaeConfig::from_file(config_file);
  const fs::path weights = dir / "vae_v2.safetensors";
  SV_CHECK_AS(CheckpointError, fs::exists(weights), "{}: no such file", weights.string());
  (void)io::Checkpoint::open(weights);  // validates the header against the file's size
}

std::unique_ptr<DitModel> load_dit(const fs::path& model_dir, const ParallelGroups& groups,
                                   bool low_memory) {
  const fs::path dir = model_dir / "transformer";
  const DitConfig config = DitConfig::from_file(dir / "config.json");
  auto model = std::make_unique<DitModel>(config, groups);
  // The folder also holds config.json; Checkpoint::open picks the index or the shards.
  load_parameters(model->registry(), io::Checkpoint::open(dir),
                  LoadOptions{.keep_stored_dtype = low_memory});
  // The tiny models have millions, the release 30 billion: "0.00 B" said nothing of the former.
  const auto params = static_cast<double>(model->registry().total_elements());
  log_info("loaded DiT from {} ({} layers, {} heads of {}, {} parameters)", dir.string(), config.num_layers,
           config.num_attention_heads, config.attention_head_dim,
           params >= 1e9 ? fmt::format("{:.2f} B", params / 1e9) : fmt::format("{:.2f} M", params / 1e6));
  return model;
}

std::unique_ptr<VaeModel> load_vae(const fs::path& model_dir, VaeParts parts) {
  const fs::path dir = model_dir / "vae";
  const fs::path config_file = dir / "config.json";
  const VaeConfig config =
      fs::exists(config_file) ? VaeConfig::from_file(config_file) : VaeConfig::stepvideo_v2();
  auto model = std::make_unique<VaeModel>(config, parts);
  const fs::path weights = dir / "vae_v2.safetensors";
  SV_CHECK_AS(CheckpointError, fs::exists(weights), "{}: no such file", weights.string());
  // A decode-only model leaves the encoder's tensors in the file unclaimed.
  load_parameters(model->registry(), io::Checkpoint::open(weights),
                  LoadOptions{.allow_unexpected = parts != VaeParts::Both});
  log_info("loaded Video-VAE from {}", weights.string());
  return model;
}

nlohmann::ordered_json model_identity(const fs::path& model_dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(model_dir)) {
    if (!e.is_regular_file()) continue;
    const std::string ext = e.path().extension().string();
    // sampling.json too: it changes what a run makes as much as a weight does.
    if (ext == ".safetensors" || ext == ".bin" || ext == ".model" || e.path().filename() == "vocab.txt" ||
        e.path() == ModelSampling::path(model_dir)) {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const fs::path& f : files) {
    std::string header;
    if (f.extension() == ".safetensors") {
      header = std::string(io::SafetensorsFile::open(f)->header_json());
    } else {
      std::ifstream in(f, std::ios::binary);
      header.resize(1 << 20);
      in.read(header.data(), static_cast<std::streamsize>(header.size()));
      header.resize(static_cast<size_t>(in.gcount()));
    }
    out.push_back({{"file", fs::relative(f, model_dir).string()},
                   {"bytes", fs::file_size(f)},
                   {"header_sha256", Sha256::hex(header)}});
  }
  return out;
}

}  // namespace sv
