#include "models/text/bert.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "layers/weight_loader.h"
#include "models/text/text_tensor_utils.h"
#include "ops/biased_attention.h"
#include "ops/gelu_erf.h"

namespace sv {

namespace {

Scope embeddings_scope(ParameterRegistry& r, const std::string& prefix) {
  const Scope root(r, prefix);
  return root.child("embeddings");
}

}  // namespace

BertModel::BertModel(const BertConfig& config, const std::string& prefix)
    : config_(config),
      prefix_(prefix),
      embeddings_norm_(embeddings_scope(registry_, prefix).child("LayerNorm"), config.hidden_size,
                       config.layer_norm_eps, true) {
  const int64_t hd = config.hidden_size;
  const Scope emb = embeddings_scope(registry_, prefix);
  word_ = &emb.child("word_embeddings").param("weight", Shape{config.vocab_size, hd}, Init::Table);
  position_ = &emb.child("position_embeddings")
                   .param("weight", Shape{config.max_position_embeddings, hd}, Init::Table);
  token_type_ = &emb.child("token_type_embeddings")
                     .param("weight", Shape{config.type_vocab_size, hd}, Init::Table);
  const Scope encoder = Scope(registry_, prefix).child("encoder").child("layer");
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const Scope l = encoder.child(i);
    const Scope self = l.child("attention").child("self");
    const Scope attn_out = l.child("attention").child("output");
    layers_.push_back(Layer{
        Linear(self.child("query"), hd, hd, true),
        Linear(self.child("key"), hd, hd, true),
        Linear(self.child("value"), hd, hd, true),
        Linear(attn_out.child("dense"), hd, hd, true),
        LayerNorm(attn_out.child("LayerNorm"), hd, config.layer_norm_eps, true),
        Linear(l.child("intermediate").child("dense"), hd, config.intermediate_size, true),
        Linear(l.child("output").child("dense"), config.intermediate_size, hd, true),
        LayerNorm(l.child("output").child("LayerNorm"), hd, config.layer_norm_eps, true),
    });
  }
}

void BertModel::load(const io::Checkpoint& checkpoint) {
  // Only the pooler and the position_ids buffer may be left over; anything
  // else unclaimed means the file is not this model.
  const std::string p = prefix_.empty() ? "" : prefix_ + ".";
  for (const std::string& name : checkpoint.names()) {
    if (registry_.find(name)) continue;
    const bool known_extra =
        name == p + "embeddings.position_ids" || name.starts_with(p + "pooler.");
    SV_CHECK_AS(CheckpointError, known_extra,
                "{}: unexpected tensor '{}' for a BERT encoder with prefix '{}'",
                checkpoint.describe(), name, prefix_);
  }
  load_parameters(registry_, checkpoint, LoadOptions{.allow_unexpected = true});
}

Tensor BertModel::forward(const Tensor& input_ids, const Tensor& attention_mask,
                          const TraceFn& trace) const {
  const Tensor ids = text::check_token_ids(input_ids, config_.vocab_size, "BERT");
  const int64_t b = ids.dim(0), s = ids.dim(1), hd = config_.hidden_size;
  SV_CHECK_AS(InputError, s <= config_.max_position_embeddings,
              "BERT: {} tokens exceed max_position_embeddings {}", s,
              config_.max_position_embeddings);
  const Tensor mask = text::check_mask(attention_mask, ids, "BERT");

  // word + token_type[0] + position, in upstream's order of additions.
  Tensor x = Tensor::empty(Shape{b, s, hd}, DType::F32);
  {
    const int64_t* idp = ids.data<int64_t>();
    const float* w = word_->value.data<float>();
    const float* pos = position_->value.data<float>();
    const float* tt = token_type_->value.data<float>();
    float* xp = x.data<float>();
    for (int64_t r = 0; r < b * s; ++r) {
      const float* wr = w + idp[r] * hd;
      const float* pr = pos + (r % s) * hd;
      for (int64_t c = 0; c < hd; ++c) xp[r * hd + c] = (wr[c] + tt[c]) + pr[c];
    }
  }
  x = embeddings_norm_(x);
  if (trace) trace("embeddings", x);

  // (1 - mask) * finfo(f32).min on the keys, exactly as transformers builds it.
  Tensor bias = Tensor::empty(Shape{b, 1, 1, s}, DType::F32);
  {
    const int64_t* mp = mask.data<int64_t>();
    float* bp = bias.data<float>();
    for (int64_t i = 0; i < b * s; ++i) {
      bp[i] = (1.0f - static_cast<float>(mp[i])) * std::numeric_limits<float>::lowest();
    }
  }
  const int64_t heads = config_.num_attention_heads, d = config_.head_dim();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    const Tensor q = l.query(x).reshape(Shape{b, s, heads, d});
    const Tensor k = l.key(x).reshape(Shape{b, s, heads, d});
    const Tensor v = l.value(x).reshape(Shape{b, s, heads, d});
    const Tensor ctx = ops::biased_attention(q, k, v, bias, scale).reshape(Shape{b, s, hd});
    Tensor a = l.attention_dense(ctx);
    text::add_(a, x);
    a = l.attention_norm(a);
    Tensor h = l.intermediate(a);
    ops::gelu_erf_(h);
    Tensor o = l.output_dense(h);
    text::add_(o, a);
    x = l.output_norm(o);
    if (trace) trace("encoder.layer." + std::to_string(i), x);
  }
  return x;
}

}  // namespace sv
