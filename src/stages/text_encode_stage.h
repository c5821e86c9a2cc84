// TextEncodeStage: prompts -> the DiT's text conditioning, exactly as
// upstream's caption server returns it (fixtures/TEXT.md, "The conditioning
// contract"): for the batch [prompt_i + positive_suffix_i ..., negative_i ...]
//   y              f32  [2B, 320, hidden]  Step-LLM last hidden state
//   y_mask         i64  [2B, 77 + 320]     77 ones (the CLIP length) | Step-LLM mask
//   clip_embedding bf16 [2B, 77, 1024]     BERT last hidden state, rounded to bf16
// Both encoders see the same strings.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/text/bert.h"
#include "models/text/step_llm.h"
#include "models/tokenizers/bert_tokenizer.h"
#include "models/tokenizers/step_tokenizer.h"

namespace sv {

// Upstream's defaults (stepvideo/config.py pos_magic / neg_magic).
inline constexpr const char* kDefaultPositiveSuffix =
    "超高清、HDR 视频、环境光、杜比全景声、画面稳定、流畅动作、逼真的细节、专业级构图、超现实主义、"
    "自然、生动、超细节、清晰。";
inline constexpr const char* kDefaultNegativePrompt =
    "画面暗、低分辨率、不良手、文本、缺少手指、多余的手指、裁剪、低质量、颗粒状、签名、水印、用户名、"
    "模糊。";

struct TextEncodeOptions {
  int64_t llm_max_length = 320;
  int64_t clip_max_length = 77;
  std::string positive_suffix = kDefaultPositiveSuffix;  // per-run defaults
  std::string negative_prompt = kDefaultNegativePrompt;
};

// One prompt; unset fields take the run's defaults (manifest items may set them).
struct PromptItem {
  std::string prompt;
  std::optional<std::string> positive_suffix;
  std::optional<std::string> negative_prompt;
};

struct TextConditioning {
  std::vector<std::string> texts;  // what both encoders saw, row order
  Tensor y, y_mask, clip_embedding;
  tok::TokenBatch llm_tokens, clip_tokens;
};

class TextEncodeStage {
 public:
  TextEncodeStage(tok::StepTokenizer llm_tokenizer, std::unique_ptr<StepLlmModel> llm,
                  tok::BertTokenizer clip_tokenizer, std::unique_ptr<BertModel> clip,
                  TextEncodeOptions options = {});

  // The release layout: MODEL_DIR/step_llm/ (config.json,
  // step1_chat_tokenizer.model, weights) and MODEL_DIR/hunyuan_clip/
  // (clip_text_encoder/ with config.json + pytorch_model.bin, tokenizer/).
  static TextEncodeStage open(const std::filesystem::path& model_dir,
                              TextEncodeOptions options = {});

  // Classifier-free-guidance batch: rows [prompt_i + suffix_i ...] then
  // [negative_i ...].
  TextConditioning encode(const std::vector<PromptItem>& items) const;
  // The caption server on literal strings (no suffix, no negatives).
  TextConditioning encode_texts(const std::vector<std::string>& texts) const;

  const TextEncodeOptions& options() const { return options_; }
  const tok::StepTokenizer& llm_tokenizer() const { return llm_tokenizer_; }
  const tok::BertTokenizer& clip_tokenizer() const { return clip_tokenizer_; }

 private:
  tok::StepTokenizer llm_tokenizer_;
  std::unique_ptr<StepLlmModel> llm_;
  tok::BertTokenizer clip_tokenizer_;
  std::unique_ptr<BertModel> clip_;
  TextEncodeOptions options_;
};

}  // namespace sv
