// HunyuanCLIP's tokenizer: the slow transformers BertTokenizer (basic
// tokenization + greedy WordPiece) over the released vocab.txt, as
// stepvideo/text_encoder/clip.py calls it (padding to max_length, truncation,
// attention mask). The exact rules, in order, are in fixtures/TEXT.md.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/tokenizers/token_batch.h"

namespace sv::tok {

// The tokenizer_config.json settings the algorithm depends on.
struct BertTokenizerOptions {
  bool do_lower_case = true;
  std::optional<bool> strip_accents;  // null: follow do_lower_case
  bool tokenize_chinese_chars = true;
  bool do_basic_tokenize = true;
  std::string unk_token = "[UNK]", sep_token = "[SEP]", pad_token = "[PAD]",
              cls_token = "[CLS]", mask_token = "[MASK]";
  std::vector<std::string> never_split;  // kept whole by the basic tokenizer
  int64_t max_input_chars_per_word = 100;

  // Reads the keys above from a tokenizer_config.json object; absent keys keep
  // the defaults. ConfigError naming `file` for a key of the wrong type.
  static BertTokenizerOptions from_json(const nlohmann::json& j, const std::filesystem::path& file);
};

class BertTokenizer {
 public:
  static constexpr int64_t kDefaultMaxLength = 77;

  // vocab.txt: one token per line, id = 0-based line number (a repeated token
  // keeps its last line, as transformers' load_vocab does). The five special
  // tokens must be in it. CheckpointError naming the file otherwise.
  BertTokenizer(const std::filesystem::path& vocab_file, BertTokenizerOptions options = {});
  // A released tokenizer folder: vocab.txt and, if present, tokenizer_config.json.
  static BertTokenizer from_dir(const std::filesystem::path& dir);

  // The token strings of one text, without [CLS]/[SEP] and untruncated.
  std::vector<std::string> tokenize(std::string_view text) const;
  std::vector<int64_t> encode(std::string_view text) const;  // ids of tokenize()
  int64_t token_id(const std::string& token) const;           // [UNK]'s id if absent
  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }
  const BertTokenizerOptions& options() const { return options_; }

  // [CLS] + the first max_length - 2 ids + [SEP], padded with [PAD].
  TokenBatch operator()(const std::vector<std::string>& texts,
                        int64_t max_length = kDefaultMaxLength) const;

 private:
  void basic_tokenize(std::u32string_view piece, std::vector<std::u32string>& words) const;
  void wordpiece(const std::u32string& word, std::vector<std::string>& out) const;
  bool is_special(std::u32string_view s) const;

  BertTokenizerOptions options_;
  std::map<std::string, int64_t, std::less<>> vocab_;
  std::vector<std::u32string> specials_;
  int64_t unk_id_ = 0, cls_id_ = 0, sep_id_ = 0, pad_id_ = 0;
};

}  // namespace sv::tok
