#include "models/tokenizers/bert_tokenizer.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"
#include "models/tokenizers/unicode_text.h"

namespace sv::tok {

namespace fs = std::filesystem;
namespace uc = unicode;

namespace {

// The ideograph blocks BERT treats as single-character words (not all of CJK:
// kana and hangul are absent on purpose, as in the reference).
bool is_cjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_bert_whitespace(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || uc::category(cp) == "Zs";
}

bool is_bert_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return uc::is_category_c(cp);
}

// ASCII symbols count as punctuation even where Unicode calls them S*.
bool is_bert_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126)) {
    return true;
  }
  return uc::category(cp)[0] == 'P';
}

std::u32string lower_each(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t cp : s) out += uc::lower(cp);
  return out;
}

std::u32string strip_accents(std::u32string_view s) {
  std::u32string out;
  for (char32_t cp : uc::nfd(s)) {
    if (uc::category(cp) != "Mn") out.push_back(cp);
  }
  return out;
}

std::vector<std::u32string> split_python_whitespace(std::u32string_view s) {
  std::vector<std::u32string> out;
  std::u32string cur;
  for (char32_t cp : s) {
    if (uc::is_python_space(cp)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(cp);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// A special-token value in tokenizer_config.json: a string or an AddedToken
// object {"content": ...}.
std::string token_value(const nlohmann::json& j, std::string_view key, const fs::path& file,
                        const std::string& fallback) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  const nlohmann::json& v = j.at(key);
  if (v.is_object()) return io::json_require<std::string>(v, "content", file);
  return io::json_require<std::string>(j, key, file);
}

}  // namespace

BertTokenizerOptions BertTokenizerOptions::from_json(const nlohmann::json& j, const fs::path& file) {
  BertTokenizerOptions o;
  o.do_lower_case = io::json_optional<bool>(j, "do_lower_case", file, o.do_lower_case);
  if (j.contains("strip_accents") && !j.at("strip_accents").is_null()) {
    o.strip_accents = io::json_require<bool>(j, "strip_accents", file);
  }
  o.tokenize_chinese_chars =
      io::json_optional<bool>(j, "tokenize_chinese_chars", file, o.tokenize_chinese_chars);
  o.do_basic_tokenize = io::json_optional<bool>(j, "do_basic_tokenize", file, o.do_basic_tokenize);
  o.never_split = io::json_optional<std::vector<std::string>>(j, "never_split", file, {});
  o.unk_token = token_value(j, "unk_token", file, o.unk_token);
  o.sep_token = token_value(j, "sep_token", file, o.sep_token);
  o.pad_token = token_value(j, "pad_token", file, o.pad_token);
  o.cls_token = token_value(j, "cls_token", file, o.cls_token);
  o.mask_token = token_value(j, "mask_token", file, o.mask_token);
  return o;
}

BertTokenizer::BertTokenizer(const fs::path& vocab_file, BertTokenizerOptions options)
    : options_(std::move(options)) {
  std::ifstream in(vocab_file, std::ios::binary);
  SV_CHECK_AS(CheckpointError, in.good(), "{}: cannot read the vocabulary", vocab_file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  // Python's text-mode readlines: \r\n, \r and \n all end a line.
  std::string line;
  int64_t index = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      vocab_[line] = index++;
      line.clear();
    } else {
      line.push_back(c);
    }
  }
  if (!line.empty()) vocab_[line] = index++;

  const auto require = [&](const std::string& token) {
    const auto it = vocab_.find(token);
    SV_CHECK_AS(CheckpointError, it != vocab_.end(), "{}: special token '{}' is not in the vocabulary",
                vocab_file.string(), token);
    return it->second;
  };
  unk_id_ = require(options_.unk_token);
  cls_id_ = require(options_.cls_token);
  sep_id_ = require(options_.sep_token);
  pad_id_ = require(options_.pad_token);
  require(options_.mask_token);
  for (const std::string* s : {&options_.unk_token, &options_.sep_token, &options_.pad_token,
                               &options_.cls_token, &options_.mask_token}) {
    specials_.push_back(uc::from_utf8(*s));
  }
}

BertTokenizer BertTokenizer::from_dir(const fs::path& dir) {
  BertTokenizerOptions options;
  const fs::path config = dir / "tokenizer_config.json";
  std::error_code ec;
  if (fs::exists(config, ec)) {
    options = BertTokenizerOptions::from_json(io::read_json_file(config), config);
  }
  // from_pretrained lets special_tokens_map.json override the config's tokens.
  const fs::path map = dir / "special_tokens_map.json";
  if (fs::exists(map, ec)) {
    const nlohmann::json j = io::read_json_file(map);
    options.unk_token = token_value(j, "unk_token", map, options.unk_token);
    options.sep_token = token_value(j, "sep_token", map, options.sep_token);
    options.pad_token = token_value(j, "pad_token", map, options.pad_token);
    options.cls_token = token_value(j, "cls_token", map, options.cls_token);
    options.mask_token = token_value(j, "mask_token", map, options.mask_token);
  }
  return BertTokenizer(dir / "vocab.txt", std::move(options));
}

bool BertTokenizer::is_special(std::u32string_view s) const {
  for (const auto& sp : specials_) {
    if (s == sp) return true;
  }
  for (const auto& ns : options_.never_split) {
    if (uc::to_utf8(s) == ns) return true;
  }
  return false;
}

void BertTokenizer::basic_tokenize(std::u32string_view piece,
                                   std::vector<std::u32string>& words) const {
  std::u32string text;
  text.reserve(piece.size());
  for (char32_t cp : piece) {
    if (cp == 0 || cp == 0xFFFD || is_bert_control(cp)) continue;
    if (is_bert_whitespace(cp)) {
      text.push_back(' ');
    } else if (options_.tokenize_chinese_chars && is_cjk(cp)) {
      text.push_back(' ');
      text.push_back(cp);
      text.push_back(' ');
    } else {
      text.push_back(cp);
    }
  }
  const bool strip = options_.strip_accents.value_or(options_.do_lower_case);
  for (std::u32string& token : split_python_whitespace(uc::nfc(text))) {
    if (is_special(token)) {
      words.push_back(std::move(token));
      continue;
    }
    if (options_.do_lower_case) token = lower_each(token);
    if (strip) token = strip_accents(token);
    std::u32string cur;
    for (char32_t cp : token) {
      if (is_bert_punctuation(cp)) {
        if (!cur.empty()) words.push_back(std::move(cur));
        cur.clear();
        words.emplace_back(1, cp);
      } else {
        cur.push_back(cp);
      }
    }
    if (!cur.empty()) words.push_back(std::move(cur));
  }
}

void BertTokenizer::wordpiece(const std::u32string& word, std::vector<std::string>& out) const {
  if (static_cast<int64_t>(word.size()) > options_.max_input_chars_per_word) {
    out.push_back(options_.unk_token);
    return;
  }
  // Byte offsets of each code point, so candidate pieces are plain substrings.
  std::string utf8;
  std::vector<size_t> offset;
  for (char32_t cp : word) {
    offset.push_back(utf8.size());
    utf8 += uc::to_utf8(cp);
  }
  offset.push_back(utf8.size());
  std::vector<std::string> pieces;
  size_t start = 0;
  const size_t n = word.size();
  while (start < n) {
    bool found = false;
    for (size_t end = n; end > start; --end) {
      std::string sub = utf8.substr(offset[start], offset[end] - offset[start]);
      if (start > 0) sub = "##" + sub;
      if (vocab_.count(sub)) {
        pieces.push_back(std::move(sub));
        start = end;
        found = true;
        break;
      }
    }
    if (!found) {
      out.push_back(options_.unk_token);  // one unmatched position spoils the whole word
      return;
    }
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<std::string> BertTokenizer::tokenize(std::string_view text) const {
  const std::u32string u = uc::from_utf8(text);
  std::vector<std::string> tokens;
  // Special-token strings are cut out first (leftmost match, exact case) and
  // are neither lower-cased nor split; the rest is lower-cased one character
  // at a time, as transformers' PreTrainedTokenizer.tokenize does.
  auto process = [&](std::u32string_view piece) {
    if (piece.empty()) return;
    const std::u32string lowered =
        options_.do_lower_case ? lower_each(piece) : std::u32string(piece);
    std::vector<std::u32string> words;
    if (options_.do_basic_tokenize) {
      basic_tokenize(lowered, words);
    } else {
      words = split_python_whitespace(lowered);
    }
    for (const auto& w : words) {
      if (is_special(w)) {
        tokens.push_back(uc::to_utf8(w));
      } else {
        wordpiece(w, tokens);
      }
    }
  };
  size_t begin = 0, i = 0;
  while (i < u.size()) {
    const std::u32string* match = nullptr;
    for (const auto& sp : specials_) {
      if (!sp.empty() && u.compare(i, sp.size(), sp) == 0 &&
          (match == nullptr || sp.size() > match->size())) {
        match = &sp;
      }
    }
    if (match == nullptr) {
      ++i;
      continue;
    }
    process(std::u32string_view(u).substr(begin, i - begin));
    tokens.push_back(uc::to_utf8(*match));
    i += match->size();
    begin = i;
  }
  process(std::u32string_view(u).substr(begin));
  return tokens;
}

int64_t BertTokenizer::token_id(const std::string& token) const {
  const auto it = vocab_.find(token);
  return it == vocab_.end() ? unk_id_ : it->second;
}

std::vector<int64_t> BertTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  for (const std::string& t : tokenize(text)) ids.push_back(token_id(t));
  return ids;
}

TokenBatch BertTokenizer::operator()(const std::vector<std::string>& texts,
                                     int64_t max_length) const {
  SV_CHECK_AS(ConfigError, max_length >= 2,
              "BERT tokenizer: max_length {} leaves no room for [CLS] and [SEP]", max_length);
  std::vector<std::vector<int64_t>> rows;
  std::vector<bool> truncated;
  for (const std::string& text : texts) {
    std::vector<int64_t> ids = encode(text);
    const auto keep = static_cast<size_t>(max_length - 2);
    truncated.push_back(ids.size() > keep);
    if (ids.size() > keep) ids.resize(keep);
    std::vector<int64_t> row{cls_id_};
    row.insert(row.end(), ids.begin(), ids.end());
    row.push_back(sep_id_);
    rows.push_back(std::move(row));
  }
  return pack_rows(rows, truncated, max_length, pad_id_);
}

}  // namespace sv::tok
