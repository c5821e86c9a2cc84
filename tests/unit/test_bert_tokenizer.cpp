// WordPiece tokenizer rules on a small hand-written vocabulary; expected tokens
// follow from the rules in fixtures/TEXT.md by hand.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/tokenizers/bert_tokenizer.h"

namespace sv::tok {
namespace {

namespace fs = std::filesystem;

// ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then the rest in order.
const std::vector<std::string> kVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a",   "cat",  "on",   "the",  "window",
    "##s",   "##ill", ".",     ",",     "!",      "猫",  "在",   "窗",   "台",   "上",
    "cafe",  "naive", "hello", "world", "##o",    "hell", "x",   "y",    "，",   "。",
    "un",    "##aff", "##able", "mask", "[",     "]",    "οδοσ", "i"};

class BertTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sv_bert_tok_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    std::ofstream out(dir_ / "vocab.txt");
    for (const auto& t : kVocab) out << t << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  BertTokenizer make(BertTokenizerOptions o = {}) const {
    return BertTokenizer(dir_ / "vocab.txt", o);
  }
  fs::path dir_;
};

using Tokens = std::vector<std::string>;

TEST_F(BertTokenizerTest, MixedChineseEnglishAndPunctuation) {
  const auto tok = make();
  EXPECT_EQ(tok.tokenize("A cat on the windowsill."),
            (Tokens{"a", "cat", "on", "the", "window", "##s", "##ill", "."}));
  // Every ideograph is its own word even without spaces; full-width commas split.
  EXPECT_EQ(tok.tokenize("猫在窗台上，cat!"),
            (Tokens{"猫", "在", "窗", "台", "上", "，", "cat", "!"}));
  EXPECT_EQ(tok.tokenize("hello,world"), (Tokens{"hello", ",", "world"}));
  EXPECT_EQ(tok.tokenize("unaffable"), (Tokens{"un", "##aff", "##able"}));
}

TEST_F(BertTokenizerTest, UnknownWordsBecomeOneUnk) {
  const auto tok = make();
  // "hellq": "hell" matches, "##q" does not: the whole word is [UNK].
  EXPECT_EQ(tok.tokenize("hellq cat"), (Tokens{"[UNK]", "cat"}));
  EXPECT_EQ(tok.tokenize("helloo"), (Tokens{"hello", "##o"}));
  // A word over 100 code points is [UNK] even if it would match.
  std::string long_word;
  for (int i = 0; i < 101; ++i) long_word += "a";
  EXPECT_EQ(tok.tokenize(long_word), (Tokens{"[UNK]"}));
}

TEST_F(BertTokenizerTest, AccentsAndCase) {
  const auto tok = make();
  EXPECT_EQ(tok.tokenize("CAFÉ Naïve"), (Tokens{"cafe", "naive"}));
  // Decomposed input (e + U+0301) lands on the same tokens.
  EXPECT_EQ(tok.tokenize("cafe\xCC\x81"), (Tokens{"cafe"}));
  // Greek capitals lower-cased one character at a time: no final sigma.
  EXPECT_EQ(tok.tokenize("ΟΔΟΣ"), (Tokens{"οδοσ"}));
  // U+0130 lower-cases to "i" + U+0307; the mark is then stripped.
  EXPECT_EQ(tok.tokenize("\xC4\xB0"), (Tokens{"i"}));
  BertTokenizerOptions keep;
  keep.strip_accents = false;
  EXPECT_EQ(make(keep).tokenize("café"), (Tokens{"[UNK]"}));
}

TEST_F(BertTokenizerTest, WhitespaceAndInvisibleCharacters) {
  const auto tok = make();
  EXPECT_EQ(tok.tokenize("  cat\t\non\r\n the\xC2\xA0window  "),
            (Tokens{"cat", "on", "the", "window"}));
  // ZWSP, soft hyphen, BOM vanish without splitting the word.
  EXPECT_EQ(tok.tokenize("ca\xE2\x80\x8Bt wi\xC2\xAD" "ndow \xEF\xBB\xBF" "on"),
            (Tokens{"cat", "window", "on"}));
}

TEST_F(BertTokenizerTest, SpecialTokenStrings) {
  const auto tok = make();
  EXPECT_EQ(tok.tokenize("x[SEP]y"), (Tokens{"x", "[SEP]", "y"}));
  EXPECT_EQ(tok.tokenize("a [MASK] cat"), (Tokens{"a", "[MASK]", "cat"}));
  // Only the exact upper-case spelling is special.
  EXPECT_EQ(tok.tokenize("[mask]"), (Tokens{"[", "mask", "]"}));
}

TEST_F(BertTokenizerTest, EmptyPromptAndPadding) {
  const auto tok = make();
  const TokenBatch b = tok({"", "a cat"}, 6);
  ASSERT_EQ(b.input_ids.shape(), (Shape{2, 6}));
  const std::vector<int64_t> ids(b.input_ids.data<int64_t>(), b.input_ids.data<int64_t>() + 12);
  const std::vector<int64_t> mask(b.attention_mask.data<int64_t>(),
                                  b.attention_mask.data<int64_t>() + 12);
  EXPECT_EQ(ids, (std::vector<int64_t>{2, 3, 0, 0, 0, 0, 2, 5, 6, 3, 0, 0}));
  EXPECT_EQ(mask, (std::vector<int64_t>{1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(b.valid_lengths, (std::vector<int64_t>{2, 4}));
}

TEST_F(BertTokenizerTest, LongPromptKeepsTheFirstTokens) {
  const auto tok = make();
  std::string text;
  for (int i = 0; i < 200; ++i) text += i % 2 ? "cat " : "on ";
  const TokenBatch b = tok({text}, 77);
  const int64_t* ids = b.input_ids.data<int64_t>();
  EXPECT_EQ(ids[0], 2);
  EXPECT_EQ(ids[1], 7);   // "on"
  EXPECT_EQ(ids[2], 6);   // "cat"
  EXPECT_EQ(ids[75], 7);  // the 75th text token
  EXPECT_EQ(ids[76], 3);  // [SEP] last, no padding
  EXPECT_TRUE(b.truncated[0]);
  EXPECT_EQ(b.valid_lengths[0], 77);
}

TEST_F(BertTokenizerTest, MissingSpecialTokenIsACheckpointError) {
  std::ofstream(dir_ / "small.txt") << "[PAD]\n[UNK]\n";
  EXPECT_THROW(BertTokenizer(dir_ / "small.txt"), CheckpointError);
  EXPECT_THROW(BertTokenizer(dir_ / "absent.txt"), CheckpointError);
}

}  // namespace
}  // namespace sv::tok
