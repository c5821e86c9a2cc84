// The Step-LLM tokenizer: a SentencePiece model (the release's
// step1_chat_tokenizer.model) wrapped with the rules of upstream's
// Wrapped_StepChatTokenizer (stepvideo/text_encoder/tokenizer.py):
//   ids = SentencePiece encode (the model's own normalisation, no BOS/EOS),
//   keep the first max_length - 2, row = [BOS=1] + ids + [EOS=2],
//   pad with PAD=2 to max_length; the mask covers BOS..EOS.
// BOS/EOS/PAD are fixed by the wrapper, not read from the model.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "models/tokenizers/token_batch.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace sv::tok {

class StepTokenizer {
 public:
  static constexpr int64_t kBos = 1;
  static constexpr int64_t kEos = 2;
  static constexpr int64_t kPad = 2;
  static constexpr int64_t kDefaultMaxLength = 320;

  // Loads the model and checks what the upstream wrapper asserts: the chat
  // control pieces (<|BOT|> ... <|THINK_END|>) exist and are control pieces,
  // and the mask pieces exist. CheckpointError naming the file otherwise.
  explicit StepTokenizer(const std::filesystem::path& model_file);
  ~StepTokenizer();
  StepTokenizer(StepTokenizer&&) noexcept;
  StepTokenizer& operator=(StepTokenizer&&) noexcept;

  // SentencePiece ids of one text (no BOS/EOS, no truncation).
  std::vector<int64_t> encode(const std::string& text) const;
  std::string piece(int64_t id) const;
  int64_t vocab_size() const;

  // One row per text. Like upstream, an empty list still yields one row
  // (the empty prompt: [BOS, EOS, PAD...]).
  TokenBatch operator()(const std::vector<std::string>& texts,
                        int64_t max_length = kDefaultMaxLength) const;

 private:
  std::filesystem::path path_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace sv::tok
