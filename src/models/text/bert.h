// HunyuanCLIP's text encoder: transformers' BertModel (post-norm encoder),
// output = last_hidden_state for every position. Parameters bind to the
// released clip_text_encoder checkpoint names (`bert.embeddings...`,
// `bert.encoder.layer.{i}...`); the pooler is not part of the output and a
// checkpoint's pooler/position_ids tensors are ignored by load().
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "io/checkpoint.h"
#include "layers/linear.h"
#include "layers/norms.h"
#include "layers/parameter.h"
#include "models/text/bert_config.h"

namespace sv {

using TraceFn = std::function<void(std::string_view name, const Tensor& value)>;

class BertModel {
 public:
  // `prefix` is the checkpoint's name prefix ("bert" in the release).
  explicit BertModel(const BertConfig& config, const std::string& prefix = "bert");

  ParameterRegistry& registry() { return registry_; }
  const ParameterRegistry& registry() const { return registry_; }
  const BertConfig& config() const { return config_; }
  // Binds the weights, tolerating the unused pooler and position_ids buffer.
  void load(const io::Checkpoint& checkpoint);

  // input_ids, attention_mask: i64 [B, S] (S <= max_position_embeddings;
  // token type 0 everywhere). Padded keys are excluded from attention; padded
  // query positions are computed like any other (as upstream). Returns f32
  // [B, S, hidden]. Traces: "embeddings", "encoder.layer.{i}".
  Tensor forward(const Tensor& input_ids, const Tensor& attention_mask,
                 const TraceFn& trace = {}) const;

 private:
  struct Layer {
    Linear query, key, value, attention_dense;
    LayerNorm attention_norm;
    Linear intermediate, output_dense;
    LayerNorm output_norm;
  };

  BertConfig config_;
  std::string prefix_;
  ParameterRegistry registry_;
  Parameter* word_ = nullptr;
  Parameter* position_ = nullptr;
  Parameter* token_type_ = nullptr;
  LayerNorm embeddings_norm_;
  std::vector<Layer> layers_;
};

}  // namespace sv
