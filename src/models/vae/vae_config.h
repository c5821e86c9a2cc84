// AutoencoderKL's constructor arguments (upstream stepvideo/vae/vae.py), read
// from a config.json with the upstream key names. The released model has no
// config file of its own: AutoencoderKL(version=2, z_channels=64) hard-codes
// its widths, which stepvideo_v2() reproduces.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <vector>

namespace sv {

struct VaeEncoderConfig {
  int64_t ch = 32;
  std::vector<int64_t> ch_mult{4, 8, 16, 16};
  std::vector<int64_t> down_sampling_layer{1, 2};  // levels followed by Downsample3D
  bool double_z = true;

  int64_t width(size_t level) const { return ch * ch_mult[level]; }
  int64_t deepest_width() const { return width(ch_mult.size() - 1); }
};

struct VaeDecoderConfig {
  int64_t ch = 128;
  std::vector<int64_t> ch_mult{1, 2, 4, 4};
  std::vector<int64_t> temporal_up_layers{2, 3};  // levels followed by Upsample3D
  int64_t temporal_downsample = 4;                // output frames dropped: this minus 1

  int64_t width(size_t level) const { return ch * ch_mult[level]; }
  int64_t deepest_width() const { return width(ch_mult.size() - 1); }
};

struct VaeConfig {
  int64_t version = 2;
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  int64_t z_channels = 64;
  int64_t num_res_blocks = 2;
  int64_t frame_len = 17;  // video frames per chunk
  int64_t latent_len = 3;  // latent frames per chunk
  int64_t norm_groups = 32;
  float norm_eps = 1e-5f;
  VaeEncoderConfig encoder;
  VaeDecoderConfig decoder;

  // Channels of the pixel-(un)shuffled latent: 4 z 2^3 upstream (2048 real).
  int64_t patch_channels() const { return 32 * z_channels; }

  // The released Step-Video-T2V Video-VAE v2.
  static VaeConfig stepvideo_v2() { return {}; }
  static VaeConfig from_json(const nlohmann::json& json, const std::filesystem::path& file);
  static VaeConfig from_file(const std::filesystem::path& config_json);
  // Throws ConfigError (NotSupported for version 1) naming the rule a value breaks.
  void validate(const std::filesystem::path& file) const;
};

}  // namespace sv
