// StepVideoModel's constructor arguments, read from the upstream config.json.
#pragma once

#include <cstdint>
#include <filesystem>

#include <nlohmann/json_fwd.hpp>

namespace sv {

struct DitConfig {
  int64_t num_attention_heads = 48;
  int64_t attention_head_dim = 128;
  int64_t in_channels = 64;
  int64_t out_channels = 64;
  int64_t num_layers = 48;
  int64_t patch_size = 1;
  float norm_eps = 1e-6f;
  bool norm_elementwise_affine = false;
  int64_t caption_channels = 6144;  // Step-LLM hidden size
  int64_t clip_channels = 1024;     // HunyuanCLIP hidden size; 0: no clip projection

  int64_t inner_dim() const { return num_attention_heads * attention_head_dim; }

  // The released Step-Video-T2V transformer (30B).
  static DitConfig stepvideo_t2v() { return {}; }
  static DitConfig from_json(const nlohmann::json& json, const std::filesystem::path& file);
  static DitConfig from_file(const std::filesystem::path& config_json);
  // Throws ConfigError naming the rule a value breaks.
  void validate(const std::filesystem::path& file) const;
};

}  // namespace sv
