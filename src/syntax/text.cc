#include "src/syntax/text.h"

#include <locale.h>
#include <wctype.h>

#include <charconv>
#include <cmath>

#include "absl/strings/str_format.h"
#include "src/common/gofmt.h"
#include "src/common/json_writer.h"

namespace telegate::syntax {
namespace {

constexpr char32_t kRuneError = 0xFFFD;

// glibc's C.UTF-8 locale carries the Unicode tables; when it is unavailable a coarse range table
// is used instead.
locale_t utf8Locale() {
  static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return loc;
}

bool coarseLetter(char32_t c) {
  struct R {
    char32_t lo, hi;
  };
  static constexpr R kRanges[] = {
      {0xC0, 0xD6},     {0xD8, 0xF6},     {0xF8, 0x2AF},    {0x370, 0x3FF},   {0x400, 0x52F},
      {0x531, 0x587},   {0x5D0, 0x5EA},   {0x620, 0x64A},   {0x900, 0x97F},   {0xE00, 0xE7F},
      {0x10A0, 0x10FF}, {0x1100, 0x11FF}, {0x1E00, 0x1FFF}, {0x3041, 0x30FF}, {0x3400, 0x4DBF},
      {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A},
  };
  for (const R& r : kRanges) {
    if (c >= r.lo && c <= r.hi) return true;
  }
  return false;
}

}  // namespace

// Go's utf8.DecodeRuneInString (src/common/gofmt.h); `ok` tells an invalid byte from a real U+FFFD.
char32_t decodeRune(std::string_view s, size_t i, int* width, bool* ok) {
  if (i >= s.size()) {
    *width = 1;
    *ok = false;
    return kRuneError;
  }
  auto [r, n] = gofmt::decodeRune(s, i);
  *width = static_cast<int>(n);
  *ok = !(r == gofmt::kRuneError && n == 1);
  return r;
}

void appendUtf8(std::string* out, char32_t c) {
  if (c > 0x10FFFF || (c >= 0xD800 && c < 0xE000)) c = kRuneError;
  gofmt::appendRune(out, c);
}

size_t runeCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    int w;
    bool ok;
    decodeRune(s, i, &w, &ok);
    i += w;
    ++n;
  }
  return n;
}

bool isUnicodeLetter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (c > 0x10FFFF || c == kRuneError || c == 0xFEFF) return false;
  locale_t loc = utf8Locale();
  if (loc != static_cast<locale_t>(nullptr)) return iswalpha_l(static_cast<wint_t>(c), loc) != 0;
  return coarseLetter(c);
}

bool isUnicodeDigit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  // glibc classifies non-ASCII decimal digits as alphabetic.
  return isUnicodeLetter(c);
}

bool isGoPrintable(char32_t c) {
  if (c < 0x80) return c >= 0x20 && c < 0x7F;
  if (c < 0xA1 || c == 0xAD || c > 0x10FFFF) return false;
  if (c >= 0xD800 && c < 0xE000) return false;
  if (c >= 0x2000 && c <= 0x200F) return false;
  if (c >= 0x2028 && c <= 0x202F) return false;
  if (c == 0xFEFF || (c >= 0xE000 && c <= 0xF8FF) || c == 0x3000) return false;
  return true;
}

bool isGoSpace(char32_t c) {
  switch (c) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

std::string goQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    int w;
    bool ok;
    char32_t c = decodeRune(s, i, &w, &ok);
    if (!ok) {
      out += absl::StrFormat("\\x%02x", static_cast<unsigned char>(s[i]));
      i += 1;
      continue;
    }
    i += w;
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\a':
        out += "\\a";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\v':
        out += "\\v";
        continue;
      default:
        break;
    }
    if (isGoPrintable(c)) {
      appendUtf8(&out, c);
    } else if (c < 0x20 || c == 0x7F) {
      out += absl::StrFormat("\\x%02x", static_cast<uint32_t>(c));
    } else if (c < 0x10000) {
      out += absl::StrFormat("\\u%04x", static_cast<uint32_t>(c));
    } else {
      out += absl::StrFormat("\\U%08x", static_cast<uint32_t>(c));
    }
  }
  out += "\"";
  return out;
}

std::string jsonQuote(std::string_view s) {
  return json::quote(s, json::kJsonGoLegacy);
}

std::string formatFloatShortest(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto res = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::fixed);
  if (res.ec != std::errc()) return absl::StrFormat("%g", f);
  return std::string(buf, res.ptr);
}

}  // namespace telegate::syntax

namespace telegate::syntax {

char32_t toLowerRune(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  locale_t loc = utf8Locale();
  if (loc == static_cast<locale_t>(nullptr) || c > 0x10FFFF) return c;
  return static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), loc));
}

char32_t toUpperRune(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  locale_t loc = utf8Locale();
  if (loc == static_cast<locale_t>(nullptr) || c > 0x10FFFF) return c;
  return static_cast<char32_t>(towupper_l(static_cast<wint_t>(c), loc));
}

}  // namespace telegate::syntax
