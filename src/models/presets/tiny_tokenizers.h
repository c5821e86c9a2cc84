// The tiny preset's two tokenizers, built from a corpus in memory and
// byte-for-byte reproducible: a SentencePiece BPE model shaped like the
// released step1_chat_tokenizer.model, and a WordPiece vocab.txt shaped like
// HunyuanCLIP's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sv::presets {

// Trains a SentencePiece BPE model with the settings of the released Step
// tokenizer (byte fallback, identity normalisation, digits split, unk/bos/eos
// = 0/1/2 and no pad piece) and the chat control and mask pieces the Step
// wrapper checks for. vocab_size is an upper bound (hard_vocab_limit=false):
// a small corpus yields fewer pieces. Single-threaded and without sentence
// sampling, so the same corpus gives the same bytes. Returns the serialized
// ModelProto (the .model file). ConfigError with SentencePiece's message if
// training fails.
std::string train_step_tokenizer(const std::vector<std::string>& lines, int64_t vocab_size);

// A WordPiece vocabulary in BERT's vocab.txt format (one token per line, id =
// line number): [PAD] [UNK] [CLS] [SEP] [MASK], the punctuation characters the
// basic tokenizer splits off, single letters and digits, "##" continuation
// pieces (every letter and digit plus common English suffixes), every CJK
// ideograph of the corpus, then every lower-cased word of the corpus. Sorted
// within each group, so the result depends only on the corpus.
std::string build_wordpiece_vocab(const std::vector<std::string>& lines);

}  // namespace sv::presets
