#include "models/dit/dit_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace sv {

DitConfig DitConfig::from_json(const nlohmann::json& json, const std::filesystem::path& file) {
  DitConfig c;
  c.num_attention_heads = io::json_require<int64_t>(json, "num_attention_heads", file);
  c.attention_head_dim = io::json_require<int64_t>(json, "attention_head_dim", file);
  c.in_channels = io::json_require<int64_t>(json, "in_channels", file);
  c.out_channels = io::json_optional<int64_t>(json, "out_channels", file, c.in_channels);
  c.num_layers = io::json_require<int64_t>(json, "num_layers", file);
  c.patch_size = io::json_optional<int64_t>(json, "patch_size", file, 1);
  c.norm_eps = static_cast<float>(io::json_optional<double>(json, "norm_eps", file, 1e-6));
  c.norm_elementwise_affine =
      io::json_optional<bool>(json, "norm_elementwise_affine", file, false);
  SV_CHECK_AS(ConfigError, json.contains("caption_channels"), "{}: missing key 'caption_channels'",
              file.string());
  const nlohmann::json& caption = json.at("caption_channels");
  if (caption.is_array()) {
    SV_CHECK_AS(ConfigError, caption.size() == 2 && caption[0].is_number_integer() &&
                                 caption[1].is_number_integer(),
                "{}: 'caption_channels' should be [llm_channels, clip_channels], got {}",
                file.string(), caption.dump());
    c.caption_channels = caption[0].get<int64_t>();
    c.clip_channels = caption[1].get<int64_t>();
  } else {
    SV_CHECK_AS(ConfigError, caption.is_number_integer(),
                "{}: 'caption_channels' should be an integer or a pair, got {}", file.string(),
                caption.dump());
    c.caption_channels = caption.get<int64_t>();
    c.clip_channels = 0;
  }
  const auto norm_type =
      io::json_optional<std::string>(json, "norm_type", file, std::string("ada_norm_single"));
  SV_CHECK_AS(NotSupported, norm_type == "ada_norm_single",
              "{}: norm_type '{}' is not supported (only ada_norm_single)", file.string(),
              norm_type);
  SV_CHECK_AS(NotSupported, !io::json_optional<bool>(json, "use_additional_conditions", file, false),
              "{}: use_additional_conditions=true is not supported (the release does not use it)",
              file.string());
  c.validate(file);
  return c;
}

DitConfig DitConfig::from_file(const std::filesystem::path& config_json) {
  return from_json(io::read_json_file(config_json), config_json);
}

void DitConfig::validate(const std::filesystem::path& file) const {
  auto positive = [&](int64_t v, const char* key) {
    SV_CHECK_AS(ConfigError, v > 0, "{}: '{}' must be positive, got {}", file.string(), key, v);
  };
  positive(num_attention_heads, "num_attention_heads");
  positive(attention_head_dim, "attention_head_dim");
  positive(in_channels, "in_channels");
  positive(out_channels, "out_channels");
  positive(num_layers, "num_layers");
  positive(patch_size, "patch_size");
  positive(caption_channels, "caption_channels");
  SV_CHECK_AS(ConfigError, clip_channels >= 0, "{}: clip channels must not be negative",
              file.string());
  SV_CHECK_AS(ConfigError, attention_head_dim % 8 == 0,
              "{}: attention_head_dim must be a multiple of 8 (3D RoPE splits it into a half and two "
              "quarters of even size: 64/32/32 for upstream's 128), got {}",
              file.string(), attention_head_dim);
}

}  // namespace sv
