// The bilingual corpus the tiny preset's tokenizers are built from:
// configs/tiny/corpus.txt, compiled into the library (tiny_corpus.cpp.in) so
// `stepvideo init-model` does not depend on where the repository lives.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sv::presets {

std::string_view tiny_corpus_text();

// The corpus's non-empty lines, without line endings.
std::vector<std::string> tiny_corpus_lines();

}  // namespace sv::presets
