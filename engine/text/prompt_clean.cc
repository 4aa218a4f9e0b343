#include "engine/text/prompt_clean.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::text {
namespace {

struct Entity {
  const char* name;
  const char* value;
};

constexpr Entity kEntities[] = {
#include "engine/text/internal/html_entities.inc"
};

// The reference works on code points; so does everything below.
absl::StatusOr<std::u32string> DecodeUtf8(absl::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<uint8_t>(text[i]);
    int extra;
    char32_t code;
    if (byte < 0x80) {
      extra = 0, code = byte;
    } else if ((byte & 0xE0) == 0xC0) {
      extra = 1, code = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      extra = 2, code = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      extra = 3, code = byte & 0x07;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("prompt is not valid UTF-8 at byte ", i));
    }
    if (i + extra >= text.size()) {
      return absl::InvalidArgumentError(absl::StrCat("prompt is not valid UTF-8 at byte ", i));
    }
    for (int k = 1; k <= extra; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xC0) != 0x80) {
        return absl::InvalidArgumentError(absl::StrCat("prompt is not valid UTF-8 at byte ", i));
      }
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr char32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return absl::InvalidArgumentError(absl::StrCat("prompt is not valid UTF-8 at byte ", i));
    }
    out.push_back(code);
    i += extra + 1;
  }
  return out;
}

void AppendUtf8(char32_t code, std::string* out) {
  if (code < 0x80) {
    out->push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code >> 6)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

std::string EncodeUtf8(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t code : text) AppendUtf8(code, &out);
  return out;
}

// Unicode White_Space: the `regex` module's \s.
bool IsRegexSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Python's str.isspace(): White_Space plus the bidi separators U+001C-U+001F.
bool IsPythonSpace(char32_t c) { return IsRegexSpace(c) || (c >= 0x1C && c <= 0x1F); }

std::u32string StripPython(const std::u32string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && IsPythonSpace(text[begin])) ++begin;
  while (end > begin && IsPythonSpace(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

// The UTF-8 replacement of the reference name `name` (ASCII), or nullptr.
const char* LookUpEntity(const std::string& name) {
  const auto it = std::lower_bound(
      std::begin(kEntities), std::end(kEntities), name,
      [](const Entity& entity, const std::string& key) { return entity.name < key; });
  if (it == std::end(kEntities) || it->name != name) return nullptr;
  return it->value;
}

bool IsAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char32_t c) {
  return IsAsciiDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int HexValue(char32_t c) {
  if (IsAsciiDigit(c)) return static_cast<int>(c - '0');
  return static_cast<int>((c | 0x20) - 'a' + 10);
}

// Python's html._replace_charref for a numeric reference with value `code` (saturated).
void AppendNumericReference(uint32_t code, std::u32string* out) {
  static constexpr char32_t kWindows1252[32] = {
      0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
  if (code == 0x00) return out->push_back(0xFFFD);
  if (code == 0x0D) return out->push_back(0x0D);
  if (code >= 0x80 && code <= 0x9F) return out->push_back(kWindows1252[code - 0x80]);
  if ((code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return out->push_back(0xFFFD);
  const bool invalid = (code >= 0x01 && code <= 0x08) || code == 0x0B ||
                       (code >= 0x0E && code <= 0x1F) || (code >= 0x7F && code <= 0x9F) ||
                       (code >= 0xFDD0 && code <= 0xFDEF) || (code & 0xFFFE) == 0xFFFE;
  if (!invalid) out->push_back(code);
}

// One pass of html.unescape: the reference's regex
//   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
// applied left to right, non-overlapping.
std::u32string UnescapeOnce(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    if (s[i] != '&' || i + 1 >= n) {
      out.push_back(s[i++]);
      continue;
    }
    size_t j = i + 1;
    if (s[j] == '#') {
      const bool hex = j + 1 < n && (s[j + 1] == 'x' || s[j + 1] == 'X');
      // Decimal first, as the regex's alternation order says (a decimal match never needs 'x').
      if (j + 1 < n && IsAsciiDigit(s[j + 1])) {
        size_t k = j + 1;
        uint32_t code = 0;
        while (k < n && IsAsciiDigit(s[k])) {
          code = std::min<uint32_t>(code * 10 + (s[k] - '0'), 0x110000);
          ++k;
        }
        if (k < n && s[k] == ';') ++k;
        AppendNumericReference(code, &out);
        i = k;
        continue;
      }
      if (hex && j + 2 < n && IsHexDigit(s[j + 2])) {
        size_t k = j + 2;
        uint32_t code = 0;
        while (k < n && IsHexDigit(s[k])) {
          code = std::min<uint32_t>(code * 16 + HexValue(s[k]), 0x110000);
          ++k;
        }
        if (k < n && s[k] == ';') ++k;
        AppendNumericReference(code, &out);
        i = k;
        continue;
      }
      out.push_back(s[i++]);  // "&#" without digits: not a reference.
      continue;
    }
    auto in_name = [](char32_t c) {
      return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' &&
             c != ';';
    };
    size_t k = j;
    while (k < n && k - j < 32 && in_name(s[k])) ++k;
    if (k == j) {
      out.push_back(s[i++]);
      continue;
    }
    if (k < n && s[k] == ';') ++k;
    const std::u32string name = s.substr(j, k - j);
    // Names are ASCII; a name with other characters can still have an ASCII legacy prefix.
    std::string ascii;
    for (const char32_t c : name) {
      if (c >= 0x80) break;
      ascii.push_back(static_cast<char>(c));
    }
    const char* value = ascii.size() == name.size() ? LookUpEntity(ascii) : nullptr;
    size_t used = name.size();
    // Longest prefix of at least 2 characters (only the ';'-less legacy names can match).
    for (size_t x = name.size() - 1; value == nullptr && x >= 2; --x) {
      if (x <= ascii.size()) value = LookUpEntity(ascii.substr(0, x));
      used = x;
    }
    if (value == nullptr) {
      out.push_back('&');
      out.append(name);
    } else {
      const std::u32string decoded = *DecodeUtf8(value);
      out.append(decoded);
      out.append(name.substr(used));
    }
    i = k;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> HtmlUnescape(absl::string_view text) {
  VG_ASSIGN_OR_RETURN(const std::u32string decoded, DecodeUtf8(text));
  return EncodeUtf8(UnescapeOnce(decoded));
}

absl::StatusOr<std::string> CleanPrompt(absl::string_view prompt) {
  VG_ASSIGN_OR_RETURN(const std::u32string decoded, DecodeUtf8(prompt));
  const std::u32string stripped = StripPython(UnescapeOnce(UnescapeOnce(decoded)));
  std::u32string collapsed;
  collapsed.reserve(stripped.size());
  for (size_t i = 0; i < stripped.size();) {
    if (!IsRegexSpace(stripped[i])) {
      collapsed.push_back(stripped[i++]);
      continue;
    }
    collapsed.push_back(' ');
    while (i < stripped.size() && IsRegexSpace(stripped[i])) ++i;
  }
  return EncodeUtf8(StripPython(collapsed));
}

}  // namespace videogen::engine::text
