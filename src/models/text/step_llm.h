// Step-LLM, the Step-Video-T2V caption encoder (upstream Step1Model): token
// embedding, pre-norm decoder blocks (RMSNorm; fused QKV with grouped kv
// heads; causal attention with StepFun's square-root ALiBi bias; SwiGLU
// feed-forward with the hidden size rounded up to a multiple of 256), no final
// norm: the output is the last block's hidden state for every position.
// fixtures/TEXT.md gives the exact formulas; parameters bind to the names
// Step1Model.from_pretrained loads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "layers/linear.h"
#include "layers/norms.h"
#include "layers/parameter.h"

namespace sv {

using TraceFn = std::function<void(std::string_view name, const Tensor& value)>;

struct StepLlmConfig {
  int64_t hidden_size = 6144;
  int64_t num_attention_heads = 48;
  int64_t num_attention_groups = 4;
  int64_t num_layers = 48;
  int64_t ffn_hidden_size = 16384;
  int64_t padded_vocab_size = 65536;
  float layernorm_epsilon = 1e-5f;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // The FeedForward rounds its hidden size up to a multiple of 256.
  int64_t ffn_size() const { return 256 * ((ffn_hidden_size + 255) / 256); }

  // ConfigError naming the file and key for missing keys or sizes that do not
  // fit together (heads dividing hidden, groups dividing heads).
  static StepLlmConfig from_json(const nlohmann::json& json, const std::filesystem::path& file);
  static StepLlmConfig from_file(const std::filesystem::path& config_json);
};

// The ALiBi slopes over all query heads, in head order (not sorted).
std::vector<float> step_alibi_slopes(int64_t heads);

class StepLlmModel {
 public:
  explicit StepLlmModel(const StepLlmConfig& config);

  ParameterRegistry& registry() { return registry_; }
  const ParameterRegistry& registry() const { return registry_; }
  const StepLlmConfig& config() const { return config_; }

  // input_ids: integer [B, S]. Every position is computed, padding included
  // (upstream never reads the attention mask: causality keeps the valid
  // prefix unaffected by trailing pads). Returns f32 [B, S, hidden].
  // Traces: "embeddings", "layers.{i}.{attention_norm,attention,ffn_norm,
  // feed_forward}", "layers.{i}".
  Tensor forward(const Tensor& input_ids, const TraceFn& trace = {}) const;

  // f32 [heads, S, S]: -slope_h * sqrt(i - j) for j <= i, -inf above.
  Tensor alibi_bias(int64_t seq_len) const;

 private:
  struct Block {
    RMSNorm attention_norm;
    Linear wqkv, wo;
    RMSNorm ffn_norm;
    Linear w1, w2;
  };

  StepLlmConfig config_;
  ParameterRegistry registry_;
  Parameter* embeddings_ = nullptr;
  std::vector<Block> blocks_;
};

}  // namespace sv
