#include "models/vae/vae_config.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace sv {

VaeConfig VaeConfig::from_json(const nlohmann::json& json, const std::filesystem::path& file) {
  VaeConfig c;
  c.version = io::json_optional<int64_t>(json, "version", file, c.version);
  c.in_channels = io::json_optional<int64_t>(json, "in_channels", file, c.in_channels);
  c.out_channels = io::json_optional<int64_t>(json, "out_channels", file, c.out_channels);
  c.z_channels = io::json_require<int64_t>(json, "z_channels", file);
  c.num_res_blocks = io::json_optional<int64_t>(json, "num_res_blocks", file, c.num_res_blocks);
  c.frame_len = io::json_optional<int64_t>(json, "frame_len", file, c.frame_len);
  c.latent_len = io::json_optional<int64_t>(json, "latent_len", file, c.latent_len);
  if (json.contains("encoder")) {
    const auto enc = io::json_require<nlohmann::json>(json, "encoder", file);
    c.encoder.ch = io::json_require<int64_t>(enc, "ch", file);
    c.encoder.ch_mult = io::json_require<std::vector<int64_t>>(enc, "ch_mult", file);
    c.encoder.down_sampling_layer = io::json_optional<std::vector<int64_t>>(
        enc, "down_sampling_layer", file, c.encoder.down_sampling_layer);
    c.encoder.double_z = io::json_optional<bool>(enc, "double_z", file, c.encoder.double_z);
    SV_CHECK_AS(NotSupported, io::json_optional<bool>(enc, "resamp_with_conv", file, true),
                "{}: encoder resamp_with_conv=false is not supported", file.string());
  }
  if (json.contains("decoder")) {
    const auto dec = io::json_require<nlohmann::json>(json, "decoder", file);
    c.decoder.ch = io::json_require<int64_t>(dec, "ch", file);
    c.decoder.ch_mult = io::json_require<std::vector<int64_t>>(dec, "ch_mult", file);
    c.decoder.temporal_up_layers = io::json_optional<std::vector<int64_t>>(
        dec, "temporal_up_layers", file, c.decoder.temporal_up_layers);
    c.decoder.temporal_downsample =
        io::json_optional<int64_t>(dec, "temporal_downsample", file, c.decoder.temporal_downsample);
    SV_CHECK_AS(NotSupported, io::json_optional<bool>(dec, "resamp_with_conv", file, true),
                "{}: decoder resamp_with_conv=false is not supported", file.string());
  }
  if (json.contains("group_norm")) {
    const auto gn = io::json_require<nlohmann::json>(json, "group_norm", file);
    c.norm_groups = io::json_optional<int64_t>(gn, "num_groups", file, c.norm_groups);
    c.norm_eps = static_cast<float>(io::json_optional<double>(gn, "eps", file, c.norm_eps));
  }
  c.validate(file);
  return c;
}

VaeConfig VaeConfig::from_file(const std::filesystem::path& config_json) {
  return from_json(io::read_json_file(config_json), config_json);
}

void VaeConfig::validate(const std::filesystem::path& file) const {
  const std::string f = file.string();
  SV_CHECK_AS(NotSupported, version == 2,
              "{}: VAE version {} is not supported (only version 2, vae_v2.safetensors)", f,
              version);
  auto positive = [&](int64_t v, const char* key) {
    SV_CHECK_AS(ConfigError, v > 0, "{}: '{}' must be positive, got {}", f, key, v);
  };
  positive(in_channels, "in_channels");
  positive(out_channels, "out_channels");
  positive(z_channels, "z_channels");
  positive(num_res_blocks, "num_res_blocks");
  positive(encoder.ch, "encoder.ch");
  positive(decoder.ch, "decoder.ch");
  positive(norm_groups, "group_norm.num_groups");
  SV_CHECK_AS(ConfigError, !encoder.ch_mult.empty() && !decoder.ch_mult.empty(),
              "{}: ch_mult must not be empty", f);
  // The chunk geometry is what 2 temporal halvings and a pixel unshuffle by 2 give.
  SV_CHECK_AS(ConfigError, frame_len == 17 && latent_len == 3,
              "{}: frame_len/latent_len must be 17/3 for version 2, got {}/{}", f, frame_len,
              latent_len);
  SV_CHECK_AS(ConfigError,
              decoder.temporal_up_layers.size() == 2 && decoder.temporal_downsample == 4,
              "{}: the v2 decoder needs two temporal up layers and temporal_downsample 4", f);
  SV_CHECK_AS(ConfigError, encoder.down_sampling_layer.size() == 2,
              "{}: the v2 encoder needs two Downsample3D levels", f);
  auto groups_divide = [&](int64_t width, const char* where) {
    SV_CHECK_AS(ConfigError, width % norm_groups == 0,
                "{}: {} width {} is not a multiple of {} GroupNorm groups", f, where, width,
                norm_groups);
  };
  for (size_t i = 0; i < encoder.ch_mult.size(); ++i) {
    positive(encoder.ch_mult[i], "encoder.ch_mult");
    groups_divide(encoder.width(i), "encoder");
  }
  groups_divide(encoder.ch, "encoder");
  for (size_t i = 0; i < decoder.ch_mult.size(); ++i) {
    positive(decoder.ch_mult[i], "decoder.ch_mult");
    groups_divide(decoder.width(i), "decoder");
  }
  const int64_t p = patch_channels();
  SV_CHECK_AS(ConfigError, (encoder.deepest_width() * 8) % p == 0 && p % 8 == 0,
              "{}: encoder width {} does not average into {} patch channels", f,
              encoder.deepest_width(), p);
  SV_CHECK_AS(ConfigError, (decoder.deepest_width() * 8) % p == 0,
              "{}: decoder width {} is not a whole repeat of {} patch channels", f,
              decoder.deepest_width(), p);
  const auto levels = static_cast<int64_t>(decoder.ch_mult.size());
  for (int64_t l : decoder.temporal_up_layers) {
    SV_CHECK_AS(ConfigError, l >= 1 && l < levels,
                "{}: temporal_up_layers entry {} outside [1, {})", f, l, levels);
  }
  const auto enc_levels = static_cast<int64_t>(encoder.ch_mult.size());
  for (int64_t l : encoder.down_sampling_layer) {
    SV_CHECK_AS(ConfigError, l >= 0 && l < enc_levels - 1,
                "{}: down_sampling_layer entry {} outside [0, {})", f, l, enc_levels - 1);
  }
}

}  // namespace sv
