#include "models/presets/tiny_tokenizers.h"

#include <set>
#include <unordered_map>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "core/error.h"
#include "models/tokenizers/unicode_text.h"

namespace sv::presets {

namespace uc = tok::unicode;

namespace {

class LinesIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LinesIterator(const std::vector<std::string>& lines) : lines_(lines) {}
  bool done() const override { return index_ >= lines_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return lines_[index_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& lines_;
  size_t index_ = 0;
};

// The ideograph blocks BERT's basic tokenizer isolates (as bert_tokenizer.cpp).
bool is_cjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126)) {
    return true;
  }
  return uc::category(cp)[0] == 'P';
}

}  // namespace

std::string train_step_tokenizer(const std::vector<std::string>& lines, int64_t vocab_size) {
  SV_CHECK_AS(ConfigError, !lines.empty(), "tokenizer corpus is empty");
  // The released tokenizer's settings (fixtures/step_tokenizer/config.json).
  // No input file and no model_prefix: the sentences come from memory and the
  // model comes back as bytes, so no path ends up inside the model's
  // trainer_spec and the output does not depend on where it was built.
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(vocab_size)},
      {"hard_vocab_limit", "false"},
      {"byte_fallback", "true"},
      {"character_coverage", "0.9995"},
      {"normalization_rule_name", "identity"},
      {"add_dummy_prefix", "true"},
      {"remove_extra_whitespaces", "false"},
      {"split_digits", "true"},
      {"split_by_unicode_script", "true"},
      {"split_by_whitespace", "true"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"control_symbols",
       "<|BOT|>,<|EOT|>,<|CALL_START|>,<|CALL_END|>,<|THINK_START|>,<|THINK_END|>"},
      {"user_defined_symbols", "<|MASK_1e69f|>,<|UNMASK_1e69f|>"},
      // Determinism: one thread, every sentence, no shuffling.
      {"num_threads", "1"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"minloglevel", "1"},
  };
  sentencepiece::SetRandomGeneratorSeed(1);
  LinesIterator it(lines);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
  SV_CHECK_AS(ConfigError, status.ok(), "SentencePiece training failed: {}", status.ToString());
  return model;
}

std::string build_wordpiece_vocab(const std::vector<std::string>& lines) {
  std::set<char32_t> punctuation, cjk;
  std::set<std::string> words;
  for (const std::string& line : lines) {
    std::u32string word;
    const auto flush = [&] {
      if (!word.empty()) words.insert(uc::to_utf8(word));
      word.clear();
    };
    for (char32_t cp : uc::from_utf8(line)) {
      if (uc::is_python_space(cp) || uc::is_category_c(cp)) {
        flush();
      } else if (is_cjk(cp)) {
        flush();
        cjk.insert(cp);
      } else if (is_punctuation(cp)) {
        flush();
        punctuation.insert(cp);
      } else {
        word += uc::lower(cp);
      }
    }
    flush();
  }

  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  std::set<std::string> seen(vocab.begin(), vocab.end());
  const auto add = [&](const std::string& token) {
    if (seen.insert(token).second) vocab.push_back(token);
  };
  for (char32_t cp : punctuation) add(uc::to_utf8(cp));
  std::string alnum = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (char c : alnum) add(std::string(1, c));
  for (char c : alnum) add("##" + std::string(1, c));
  for (const char* suffix : {"##ed", "##er", "##es", "##est", "##ing", "##ly", "##ness", "##s"}) {
    add(suffix);
  }
  for (char32_t cp : cjk) add(uc::to_utf8(cp));
  for (const std::string& w : words) add(w);

  std::string out;
  for (const std::string& token : vocab) out += token + "\n";
  return out;
}

}  // namespace sv::presets
