// HunyuanCLIP's BertConfig (the clip_text_encoder/config.json keys this
// encoder depends on).
#pragma once

#include <cstdint>
#include <filesystem>

#include <nlohmann/json_fwd.hpp>

namespace sv {

struct BertConfig {
  int64_t vocab_size = 47020;
  int64_t hidden_size = 1024;
  int64_t num_hidden_layers = 24;
  int64_t num_attention_heads = 16;
  int64_t intermediate_size = 4096;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  float layer_norm_eps = 1e-12f;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }

  // Only hidden_act "gelu" (erf) and position_embedding_type "absolute" are
  // implemented; others are a ConfigError naming the key, as are sizes that do
  // not fit together.
  static BertConfig from_json(const nlohmann::json& json, const std::filesystem::path& file);
  static BertConfig from_file(const std::filesystem::path& config_json);
};

}  // namespace sv
