// Internal: UTF-8 and quoting helpers shared by the scanner, printer, values and stdlib.
//
// Contract: pure functions, no allocation beyond their results, safe on arbitrary (invalid) UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

namespace telegate::syntax {

// Decodes one UTF-8 sequence at s[i]. Returns the code point and sets *width (>= 1); on invalid
// input returns U+FFFD with *width = 1 and *ok = false.
char32_t decodeRune(std::string_view s, size_t i, int* width, bool* ok);
void appendUtf8(std::string* out, char32_t c);
// Number of code points (invalid bytes count as one each).
size_t runeCount(std::string_view s);

// Unicode classes (approximating Go's unicode.IsLetter / IsDigit / IsPrint / IsSpace).
bool isUnicodeLetter(char32_t c);
bool isUnicodeDigit(char32_t c);
bool isGoPrintable(char32_t c);
bool isGoSpace(char32_t c);

// Go's strconv.Quote (as used by %q): double-quoted with Go escapes.
std::string goQuote(std::string_view s);
// JSON string literal like Go's encoding/json (HTML-safe: < > & escaped; invalid UTF-8 -> U+FFFD).
std::string jsonQuote(std::string_view s);
// Go's strconv.FormatFloat(f, 'f', -1, 64): shortest decimal without exponent; NaN, +Inf, -Inf.
std::string formatFloatShortest(double f);

}  // namespace telegate::syntax

namespace telegate::syntax {
// Unicode case mapping (simple, one-to-one), like Go's unicode.ToLower / ToUpper.
char32_t toLowerRune(char32_t c);
char32_t toUpperRune(char32_t c);
}  // namespace telegate::syntax

namespace telegate::syntax {
namespace text_internal {
inline void catOne(std::string* s, std::string_view v) {
  s->append(v);
}
inline void catOne(std::string* s, const char* v) {
  s->append(v);
}
inline void catOne(std::string* s, const std::string& v) {
  s->append(v);
}
template <typename T>
requires std::is_integral_v<T>
void catOne(std::string* s, T v) {
  s->append(std::to_string(v));
}
}  // namespace text_internal

// Concatenation accepting std::string_view (this abseil build's StrCat does not).
template <typename... Ts>
std::string strCat(const Ts&... xs) {
  std::string s;
  (text_internal::catOne(&s, xs), ...);
  return s;
}
}  // namespace telegate::syntax
