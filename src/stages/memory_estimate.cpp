#include "stages/memory_estimate.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "core/error.h"
#include "models/dit/dit_config.h"
#include "models/vae/vae_config.h"

namespace sv {

namespace fs = std::filesystem;

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// Bytes of the weight files under a folder: .safetensors and .bin.
uint64_t weight_bytes(const fs::path& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".safetensors" || ext == ".bin")) bytes += e.file_size();
  }
  return bytes;
}

uint64_t read_number(const fs::path& path) {
  std::ifstream in(path);
  std::string s;
  if (!(in >> s) || s == "max") return UINT64_MAX;
  try {
    return std::stoull(s);
  } catch (const std::exception&) {
    return UINT64_MAX;
  }
}

uint64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return UINT64_MAX;
}

int local_ranks() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"}) {
    if (const char* v = std::getenv(var)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  return 1;
}

}  // namespace

uint64_t MemoryEstimate::total() const { return weights + latents + dit_activations + vae_activations; }

std::string MemoryEstimate::describe() const {
  return fmt::format("{:.1f} GiB (weights {:.1f}, latents {:.1f}, DiT activations {:.1f}, VAE decode {:.1f})",
                     static_cast<double>(total()) / kGiB, static_cast<double>(weights) / kGiB,
                     static_cast<double>(latents) / kGiB, static_cast<double>(dit_activations) / kGiB,
                     static_cast<double>(vae_activations) / kGiB);
}

MemoryEstimate estimate_memory(const fs::path& model_dir, const MemoryRequest& r) {
  MemoryEstimate e;
  const DitConfig dit = DitConfig::from_file(model_dir / "transformer" / "config.json");
  const fs::path vae_config = model_dir / "vae" / "config.json";
  const VaeConfig vae = fs::exists(vae_config) ? VaeConfig::from_file(vae_config) : VaeConfig::stepvideo_v2();
  // Released weights are bf16 (f32 files count once): widened to f32 on load.
  const uint64_t dit_w = weight_bytes(model_dir / "transformer") * (r.offload ? 1 : 2) /
                         static_cast<uint64_t>(std::max(1, r.model_shards));
  const uint64_t vae_w = weight_bytes(model_dir / "vae") * 2;
  const uint64_t text_w = (weight_bytes(model_dir / "step_llm") + weight_bytes(model_dir / "hunyuan_clip")) * 2;
  e.weights = r.all_models_loaded ? dit_w + vae_w + text_w : std::max(text_w, dit_w + vae_w);

  const Shape lat = video_latent_shape(r.size, dit.in_channels);
  const uint64_t latent_elems = static_cast<uint64_t>(lat.numel()) * static_cast<uint64_t>(r.batch);
  e.latents = latent_elems * 4 * 4;  // latents, the guidance copy, the prediction, the update

  const uint64_t rows = static_cast<uint64_t>(r.batch) * (r.guided ? 2 : 1);
  const uint64_t p = static_cast<uint64_t>(std::max<int64_t>(1, dit.patch_size));
  const uint64_t tokens = static_cast<uint64_t>(lat[1]) * (static_cast<uint64_t>(lat[3]) / p) *
                          (static_cast<uint64_t>(lat[4]) / p) / static_cast<uint64_t>(std::max(1, r.sequence_shards));
  const uint64_t hidden = static_cast<uint64_t>(dit.inner_dim());
  e.dit_activations = rows * tokens * (8 * hidden + 2 * 4 * hidden) * 4;

  // The decoder's full-resolution level carries the most: ~42 f32 values per
  // channel and output pixel on the release configuration.
  const uint64_t side_h = r.vae_tile > 0 ? std::min<uint64_t>(static_cast<uint64_t>(r.vae_tile) * 16,
                                                                static_cast<uint64_t>(r.size.height))
                                         : static_cast<uint64_t>(r.size.height);
  const uint64_t side_w = r.vae_tile > 0 ? std::min<uint64_t>(static_cast<uint64_t>(r.vae_tile) * 16,
                                                                static_cast<uint64_t>(r.size.width))
                                         : static_cast<uint64_t>(r.size.width);
  e.vae_activations = 42ull * static_cast<uint64_t>(vae.decoder.ch) * side_h * side_w * 4 +
                      static_cast<uint64_t>(r.size.frames) * static_cast<uint64_t>(r.size.height) *
                          static_cast<uint64_t>(r.size.width) * 3 * 4;  // the decoded video, f32
  return e;
}

uint64_t available_memory() {
  uint64_t avail = mem_available();
  const uint64_t limit = read_number("/sys/fs/cgroup/memory.max");
  if (limit != UINT64_MAX) {
    const uint64_t used = read_number("/sys/fs/cgroup/memory.current");
    const uint64_t room = used == UINT64_MAX || used > limit ? 0 : limit - used;
    avail = std::min(avail, room);
  }
  return avail == UINT64_MAX ? avail : avail / static_cast<uint64_t>(local_ranks());
}

void check_memory(const MemoryEstimate& estimate, uint64_t available, const std::string& what) {
  if (available == UINT64_MAX || estimate.total() <= available) return;
  throw InputError(fmt::format("{} needs about {}, but this process has {:.1f} GiB available: use smaller sizes, "
                               "--offload, --vae-tile, or more ranks (--layout)",
                               what, estimate.describe(), static_cast<double>(available) / kGiB));
}

}  // namespace sv
