#include "stages/text_encode_stage.h"

#include <algorithm>

#include "core/error.h"
#include "core/log.h"
#include "io/checkpoint.h"
#include "layers/weight_loader.h"

namespace sv {

namespace fs = std::filesystem;

TextEncodeStage::TextEncodeStage(tok::StepTokenizer llm_tokenizer,
                                 std::unique_ptr<StepLlmModel> llm,
                                 tok::BertTokenizer clip_tokenizer,
                                 std::unique_ptr<BertModel> clip, TextEncodeOptions options)
    : llm_tokenizer_(std::move(llm_tokenizer)),
      llm_(std::move(llm)),
      clip_tokenizer_(std::move(clip_tokenizer)),
      clip_(std::move(clip)),
      options_(std::move(options)) {
  SV_CHECK(llm_ && clip_, "TextEncodeStage: both encoders are required");
  SV_CHECK_AS(ConfigError, options_.clip_max_length <= clip_->config().max_position_embeddings,
              "clip max length {} exceeds the BERT's {} positions", options_.clip_max_length,
              clip_->config().max_position_embeddings);
}

TextEncodeStage TextEncodeStage::open(const fs::path& model_dir, TextEncodeOptions options) {
  const fs::path llm_dir = model_dir / "step_llm";
  const fs::path clip_dir = model_dir / "hunyuan_clip";
  std::error_code ec;
  SV_CHECK_AS(ConfigError, fs::is_directory(llm_dir, ec) && fs::is_directory(clip_dir, ec),
              "{}: a model directory needs step_llm/ and hunyuan_clip/ (the release layout)",
              model_dir.string());
  tok::StepTokenizer llm_tok(llm_dir / "step1_chat_tokenizer.model");
  auto llm = std::make_unique<StepLlmModel>(StepLlmConfig::from_file(llm_dir / "config.json"));
  // Step-LLM's folder also holds config.json and the tokenizer: open only weights.
  load_parameters(llm->registry(), io::Checkpoint::open(llm_dir));
  log_info("loaded Step-LLM from {}", llm_dir.string());

  const fs::path enc_dir = clip_dir / "clip_text_encoder";
  tok::BertTokenizer clip_tok = tok::BertTokenizer::from_dir(clip_dir / "tokenizer");
  auto clip = std::make_unique<BertModel>(BertConfig::from_file(enc_dir / "config.json"));
  clip->load(io::Checkpoint::open(enc_dir));
  log_info("loaded HunyuanCLIP from {}", enc_dir.string());
  return TextEncodeStage(std::move(llm_tok), std::move(llm), std::move(clip_tok), std::move(clip),
                         std::move(options));
}

TextConditioning TextEncodeStage::encode(const std::vector<PromptItem>& items) const {
  std::vector<std::string> texts;
  for (const auto& it : items) {
    texts.push_back(it.prompt + it.positive_suffix.value_or(options_.positive_suffix));
  }
  for (const auto& it : items) texts.push_back(it.negative_prompt.value_or(options_.negative_prompt));
  return encode_texts(texts);
}

TextConditioning TextEncodeStage::encode_texts(const std::vector<std::string>& texts) const {
  SV_CHECK_AS(InputError, !texts.empty(), "TextEncodeStage: no prompts to encode");
  TextConditioning out;
  out.texts = texts;
  out.llm_tokens = llm_tokenizer_(texts, options_.llm_max_length);
  out.clip_tokens = clip_tokenizer_(texts, options_.clip_max_length);
  out.y = llm_->forward(out.llm_tokens.input_ids);
  // The server rounds the f32 BERT output to bf16 before the DiT sees it.
  out.clip_embedding =
      clip_->forward(out.clip_tokens.input_ids, out.clip_tokens.attention_mask).to(DType::BF16);

  const auto b = static_cast<int64_t>(texts.size());
  const int64_t lc = options_.clip_max_length, ll = options_.llm_max_length;
  out.y_mask = Tensor::empty(Shape{b, lc + ll}, DType::I64);
  int64_t* m = out.y_mask.data<int64_t>();
  const int64_t* lm = out.llm_tokens.attention_mask.data<int64_t>();
  for (int64_t r = 0; r < b; ++r) {
    std::fill_n(m + r * (lc + ll), lc, int64_t{1});
    std::copy_n(lm + r * ll, ll, m + r * (lc + ll) + lc);
  }
  return out;
}

}  // namespace sv
