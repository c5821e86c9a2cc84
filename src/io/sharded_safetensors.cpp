#include "io/sharded_safetensors.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/durable_file.h"
#include "io/safetensors.h"

namespace sv::io {

void write_sharded_safetensors(const std::filesystem::path& dir, const std::string& stem,
                               const std::vector<std::pair<std::string, Tensor>>& tensors, int shards) {
  SV_CHECK(shards >= 1, "write_sharded_safetensors: {} shards", shards);
  size_t total = 0;
  for (const auto& [name, t] : tensors) total += t.nbytes();
  nlohmann::json weight_map = nlohmann::json::object();  // sorted, as diffusers writes it
  size_t begin = 0, written = 0;
  for (int k = 1; k <= shards; ++k) {
    const std::string file = fmt::format("{}-{:05d}-of-{:05d}.safetensors", stem, k, shards);
    const size_t target = total * static_cast<size_t>(k) / static_cast<size_t>(shards);
    size_t end = begin;
    while (end < tensors.size() && (k == shards || written < target || end == begin)) {
      written += tensors[end].second.nbytes();
      ++end;
    }
    const std::vector<std::pair<std::string, Tensor>> part(tensors.begin() + static_cast<std::ptrdiff_t>(begin),
                                                           tensors.begin() + static_cast<std::ptrdiff_t>(end));
    write_safetensors(dir / file, part, {{"format", "pt"}});
    for (const auto& [name, t] : part) weight_map[name] = file;
    begin = end;
  }
  SV_CHECK(begin == tensors.size(), "write_sharded_safetensors: {} of {} tensors written", begin, tensors.size());
  const nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_text_atomic(dir / (stem + ".safetensors.index.json"), index.dump(2) + "\n");
}

}  // namespace sv::io
