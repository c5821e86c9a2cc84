#include "models/text/bert_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace sv {

BertConfig BertConfig::from_json(const nlohmann::json& j, const std::filesystem::path& file) {
  const std::string f = file.string();
  BertConfig c;
  c.vocab_size = io::json_require<int64_t>(j, "vocab_size", file);
  c.hidden_size = io::json_require<int64_t>(j, "hidden_size", file);
  c.num_hidden_layers = io::json_require<int64_t>(j, "num_hidden_layers", file);
  c.num_attention_heads = io::json_require<int64_t>(j, "num_attention_heads", file);
  c.intermediate_size = io::json_require<int64_t>(j, "intermediate_size", file);
  c.max_position_embeddings = io::json_require<int64_t>(j, "max_position_embeddings", file);
  c.type_vocab_size = io::json_optional<int64_t>(j, "type_vocab_size", file, 2);
  c.layer_norm_eps =
      static_cast<float>(io::json_optional<double>(j, "layer_norm_eps", file, 1e-12));
  const auto act = io::json_optional<std::string>(j, "hidden_act", file, "gelu");
  SV_CHECK_AS(ConfigError, act == "gelu",
              "{}: hidden_act '{}' is not supported (HunyuanCLIP uses \"gelu\")", f, act);
  const auto pos = io::json_optional<std::string>(j, "position_embedding_type", file, "absolute");
  SV_CHECK_AS(ConfigError, pos == "absolute",
              "{}: position_embedding_type '{}' is not supported (only \"absolute\")", f, pos);
  SV_CHECK_AS(ConfigError,
              c.vocab_size > 0 && c.hidden_size > 0 && c.num_hidden_layers > 0 &&
                  c.num_attention_heads > 0 && c.intermediate_size > 0 &&
                  c.max_position_embeddings > 0 && c.type_vocab_size > 0,
              "{}: sizes must be positive", f);
  SV_CHECK_AS(ConfigError, c.hidden_size % c.num_attention_heads == 0,
              "{}: hidden_size {} is not a multiple of num_attention_heads {}", f, c.hidden_size,
              c.num_attention_heads);
  return c;
}

BertConfig BertConfig::from_file(const std::filesystem::path& config_json) {
  return from_json(io::read_json_file(config_json), config_json);
}

}  // namespace sv
