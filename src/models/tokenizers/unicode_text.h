// The few Unicode services the WordPiece tokenizer needs (UTF-8 <-> code
// points, general categories, full lower-casing, NFC/NFD), over ICU. The
// reference tokenizer ran under Python's unicodedata 14.0 while ICU may be
// newer: code points assigned after Unicode 14.0 are reported as unassigned
// (Cn) and left unchanged by the case and normalisation functions, so the
// character classes stay those of the reference.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sv::tok::unicode {

using U32String = std::u32string;

// Invalid UTF-8 is an InputError naming the byte offset (Python could not have
// produced such a str, so there is no reference behaviour to follow).
U32String from_utf8(std::string_view text);
std::string to_utf8(std::u32string_view text);
std::string to_utf8(char32_t cp);

// Two-letter general category ("Lu", "Mn", "Cn", ...), Unicode 14.0 view.
std::string_view category(char32_t cp);
inline bool is_category_c(char32_t cp) { return category(cp)[0] == 'C'; }

// Python's str.lower() of the one-character string `cp`: the full mapping
// (U+0130 -> "i" U+0307) without context (no final sigma).
U32String lower(char32_t cp);

U32String nfc(std::u32string_view text);
U32String nfd(std::u32string_view text);

// Python's str.isspace().
bool is_python_space(char32_t cp);

}  // namespace sv::tok::unicode
