#include "models/tokenizers/unicode_text.h"

#include <array>
#include <vector>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "core/error.h"

namespace sv::tok::unicode {

namespace {

// Assigned after the reference's Unicode version: treated as unassigned.
bool newer_than_reference(char32_t cp) {
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(cp), age);
  return age[0] > 14 || (age[0] == 14 && age[1] > 0);
}

void append_utf16(std::u16string& out, char32_t cp) {
  if (cp < 0x10000) {
    out.push_back(static_cast<char16_t>(cp));
  } else {
    const char32_t v = cp - 0x10000;
    out.push_back(static_cast<char16_t>(0xD800 + (v >> 10)));
    out.push_back(static_cast<char16_t>(0xDC00 + (v & 0x3FF)));
  }
}

U32String from_utf16(const char16_t* s, size_t n) {
  U32String out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const char16_t c = s[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000) {
      out.push_back(0x10000 + ((static_cast<char32_t>(c) - 0xD800) << 10) + (s[i + 1] - 0xDC00));
      ++i;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::u16string to_utf16(std::u32string_view text) {
  std::u16string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf16(out, cp);
  return out;
}

// Normalises the runs of reference-era characters; newer ones pass through.
U32String normalize(std::u32string_view text, const UNormalizer2* norm) {
  U32String out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && !newer_than_reference(text[j])) ++j;
    if (j > i) {
      const std::u16string src = to_utf16(text.substr(i, j - i));
      std::vector<char16_t> dst(src.size() * 4 + 16);
      UErrorCode err = U_ZERO_ERROR;
      const int32_t len = unorm2_normalize(
          norm, reinterpret_cast<const UChar*>(src.data()), static_cast<int32_t>(src.size()),
          reinterpret_cast<UChar*>(dst.data()), static_cast<int32_t>(dst.size()), &err);
      SV_CHECK(U_SUCCESS(err), "ICU normalisation failed: {}", u_errorName(err));
      const U32String part = from_utf16(dst.data(), static_cast<size_t>(len));
      out += part;
    }
    if (j < text.size()) out.push_back(text[j++]);
    i = j;
  }
  return out;
}

}  // namespace

U32String from_utf8(std::string_view text) {
  U32String out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    int len = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      len = 1, cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    }
    bool ok = len > 0 && i + static_cast<size_t>(len) <= n;
    for (int k = 1; ok && k < len; ++k) {
      ok = (s[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static constexpr std::array<char32_t, 5> kMin = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp < 0xE000);
    SV_CHECK_AS(InputError, ok, "text is not valid UTF-8 (at byte {})", i);
    out.push_back(cp);
    i += static_cast<size_t>(len);
  }
  return out;
}

std::string to_utf8(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) out += to_utf8(cp);
  return out;
}

std::string_view category(char32_t cp) {
  if (newer_than_reference(cp)) return "Cn";
  static constexpr std::array<std::string_view, U_CHAR_CATEGORY_COUNT> kNames = {
      "Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Me", "Mc", "Nd", "Nl", "No", "Zs", "Zl", "Zp",
      "Cc", "Cf", "Co", "Cs", "Pd", "Ps", "Pe", "Pc", "Po", "Sm", "Sc", "Sk", "So", "Pi", "Pf"};
  const auto t = static_cast<size_t>(u_charType(static_cast<UChar32>(cp)));
  return t < kNames.size() ? kNames[t] : "Cn";
}

U32String lower(char32_t cp) {
  if (newer_than_reference(cp)) return U32String(1, cp);
  std::u16string src;
  append_utf16(src, cp);
  std::array<char16_t, 16> dst{};
  UErrorCode err = U_ZERO_ERROR;
  // "" is ICU's root locale: no Turkish/Lithuanian tailoring, like Python.
  const int32_t len = u_strToLower(reinterpret_cast<UChar*>(dst.data()),
                                   static_cast<int32_t>(dst.size()),
                                   reinterpret_cast<const UChar*>(src.data()),
                                   static_cast<int32_t>(src.size()), "", &err);
  SV_CHECK(U_SUCCESS(err), "ICU lower-casing of U+{:04X} failed: {}", static_cast<uint32_t>(cp),
           u_errorName(err));
  return from_utf16(dst.data(), static_cast<size_t>(len));
}

U32String nfc(std::u32string_view text) {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* norm = unorm2_getNFCInstance(&err);
  SV_CHECK(U_SUCCESS(err), "ICU NFC unavailable: {}", u_errorName(err));
  return normalize(text, norm);
}

U32String nfd(std::u32string_view text) {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* norm = unorm2_getNFDInstance(&err);
  SV_CHECK(U_SUCCESS(err), "ICU NFD unavailable: {}", u_errorName(err));
  return normalize(text, norm);
}

bool is_python_space(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

}  // namespace sv::tok::unicode
