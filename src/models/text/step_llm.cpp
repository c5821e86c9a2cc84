#include "models/text/step_llm.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"
#include "models/text/text_tensor_utils.h"
#include "ops/activations.h"
#include "ops/biased_attention.h"

namespace sv {

StepLlmConfig StepLlmConfig::from_json(const nlohmann::json& j, const std::filesystem::path& file) {
  const std::string f = file.string();
  StepLlmConfig c;
  c.hidden_size = io::json_require<int64_t>(j, "hidden_size", file);
  c.num_attention_heads = io::json_require<int64_t>(j, "num_attention_heads", file);
  c.num_attention_groups = io::json_require<int64_t>(j, "num_attention_groups", file);
  c.num_layers = io::json_require<int64_t>(j, "num_layers", file);
  c.ffn_hidden_size = io::json_require<int64_t>(j, "ffn_hidden_size", file);
  c.padded_vocab_size = io::json_require<int64_t>(j, "padded_vocab_size", file);
  c.layernorm_epsilon =
      static_cast<float>(io::json_optional<double>(j, "layernorm_epsilon", file, 1e-5));
  SV_CHECK_AS(ConfigError,
              c.hidden_size > 0 && c.num_attention_heads > 0 && c.num_attention_groups > 0 &&
                  c.num_layers > 0 && c.ffn_hidden_size > 0 && c.padded_vocab_size > 0,
              "{}: sizes must be positive", f);
  SV_CHECK_AS(ConfigError, c.hidden_size % c.num_attention_heads == 0,
              "{}: hidden_size {} is not a multiple of num_attention_heads {}", f, c.hidden_size,
              c.num_attention_heads);
  SV_CHECK_AS(ConfigError, c.num_attention_heads % c.num_attention_groups == 0,
              "{}: num_attention_heads {} is not a multiple of num_attention_groups {}", f,
              c.num_attention_heads, c.num_attention_groups);
  return c;
}

StepLlmConfig StepLlmConfig::from_file(const std::filesystem::path& config_json) {
  return from_json(io::read_json_file(config_json), config_json);
}

std::vector<float> step_alibi_slopes(int64_t heads) {
  int64_t n = 1;
  while (n * 2 <= heads) n *= 2;  // 2^floor(log2(heads))
  std::vector<float> slopes;
  const double dn = static_cast<double>(n);
  for (int64_t h = 0; h < n; ++h) {
    slopes.push_back(static_cast<float>(std::exp2(-8.0 * static_cast<double>(h + 1) / dn)));
  }
  for (int64_t m = 0; n + m < heads; ++m) {
    slopes.push_back(static_cast<float>(std::exp2(-4.0 * static_cast<double>(2 * m + 1) / dn)));
  }
  return slopes;
}

StepLlmModel::StepLlmModel(const StepLlmConfig& config) : config_(config) {
  const int64_t hd = config.hidden_size, f = config.ffn_size();
  const int64_t qkv = hd + 2 * config.head_dim() * config.num_attention_groups;
  const Scope root(registry_);
  embeddings_ = &root.child("tok_embeddings")
                     .child("word_embeddings")
                     .param("weight", Shape{config.padded_vocab_size, hd}, Init::Table);
  const Scope layers = root.child("transformer").child("layers");
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const Scope l = layers.child(i);
    blocks_.push_back(Block{
        RMSNorm(l.child("attention_norm"), hd, config.layernorm_epsilon),
        Linear(l.child("attention").child("wqkv"), hd, qkv, false),
        Linear(l.child("attention").child("wo"), hd, hd, false),
        RMSNorm(l.child("ffn_norm"), hd, config.layernorm_epsilon),
        Linear(l.child("feed_forward").child("w1"), hd, 2 * f, false),
        Linear(l.child("feed_forward").child("w2"), f, hd, false),
    });
  }
}

Tensor StepLlmModel::alibi_bias(int64_t seq_len) const {
  const int64_t heads = config_.num_attention_heads;
  const std::vector<float> slopes = step_alibi_slopes(heads);
  Tensor bias = Tensor::empty(Shape{heads, seq_len, seq_len}, DType::F32);
  float* p = bias.data<float>();
  // f32 throughout, as the reference builds its table: -sqrt(i - j) * slope.
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < seq_len; ++i) {
      float* row = p + (h * seq_len + i) * seq_len;
      for (int64_t j = 0; j < seq_len; ++j) {
        row[j] = j <= i ? -std::sqrt(static_cast<float>(i - j)) * slopes[static_cast<size_t>(h)]
                        : -std::numeric_limits<float>::infinity();
      }
    }
  }
  return bias;
}

Tensor StepLlmModel::forward(const Tensor& input_ids, const TraceFn& trace) const {
  const Tensor ids = text::check_token_ids(input_ids, config_.padded_vocab_size, "Step-LLM");
  const int64_t b = ids.dim(0), s = ids.dim(1), hd = config_.hidden_size;
  const int64_t heads = config_.num_attention_heads, groups = config_.num_attention_groups;
  const int64_t d = config_.head_dim(), f = config_.ffn_size();

  Tensor x = Tensor::empty(Shape{b, s, hd}, DType::F32);
  {
    const int64_t* idp = ids.data<int64_t>();
    const float* w = embeddings_->value.data<float>();
    float* xp = x.data<float>();
    for (int64_t r = 0; r < b * s; ++r) std::copy_n(w + idp[r] * hd, hd, xp + r * hd);
  }
  if (trace) trace("embeddings", x);

  const Tensor bias = alibi_bias(s).reshape(Shape{1, heads, s, s});
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const int64_t qkv_width = hd + 2 * d * groups;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& blk = blocks_[i];
    const std::string name = "layers." + std::to_string(i);
    Tensor n = x.clone();
    blk.attention_norm.apply_(n);
    if (trace) trace(name + ".attention_norm", n);

    // Fused projection: q = the first `hidden` outputs; the rest is per kv
    // group [k | v], each head_dim wide.
    const Tensor qkv = blk.wqkv(n);
    Tensor q = Tensor::empty(Shape{b, s, heads, d}, DType::F32);
    Tensor k = Tensor::empty(Shape{b, s, groups, d}, DType::F32);
    Tensor v = Tensor::empty(Shape{b, s, groups, d}, DType::F32);
    {
      const float* src = qkv.data<float>();
      float *qp = q.data<float>(), *kp = k.data<float>(), *vp = v.data<float>();
      for (int64_t r = 0; r < b * s; ++r) {
        const float* row = src + r * qkv_width;
        std::copy_n(row, hd, qp + r * hd);
        for (int64_t g = 0; g < groups; ++g) {
          std::copy_n(row + hd + g * 2 * d, d, kp + (r * groups + g) * d);
          std::copy_n(row + hd + g * 2 * d + d, d, vp + (r * groups + g) * d);
        }
      }
    }
    const Tensor ctx = ops::biased_attention(q, k, v, bias, scale).reshape(Shape{b, s, hd});
    Tensor h = blk.wo(ctx);
    if (trace) trace(name + ".attention", h);
    text::add_(h, x);

    Tensor m = h.clone();
    blk.ffn_norm.apply_(m);
    if (trace) trace(name + ".ffn_norm", m);
    const Tensor a = blk.w1(m);
    Tensor gate = Tensor::empty(Shape{b, s, f}, DType::F32);
    {
      const float* ap = a.data<float>();
      float* gp = gate.data<float>();
      for (int64_t r = 0; r < b * s; ++r) {
        const float* ar = ap + r * 2 * f;
        for (int64_t c = 0; c < f; ++c) {
          const float g = ar[c] / (1.0f + std::exp(-ar[c]));  // silu, as F.silu
          gp[r * f + c] = g * ar[f + c];
        }
      }
    }
    Tensor ff = blk.w2(gate);
    if (trace) trace(name + ".feed_forward", ff);
    text::add_(ff, h);
    x = std::move(ff);
    if (trace) trace(name, x);
  }
  return x;
}

}  // namespace sv
