// A forward-only JSON scanner over an unpadded, UTF-8-validated text, for the streaming OTLP/JSON
// decoder (otlp_json_decode.cc). It never allocates: strings are returned as views of their raw
// bytes (escapes not resolved) and unescape() writes them where the caller says.
//
// Contract: the caller validates UTF-8 of the whole text first (simdjson::validate_utf8), so the
// scanner only checks JSON structure: string escapes (\uXXXX surrogate pairs must pair up),
// unescaped control characters, the number grammar (integers outside int64/uint64 and finite
// numbers that overflow a double are invalid, as simdjson has it; underflow gives a signed zero),
// literals, and nesting of skipped values up to kMaxJsonDepth. The first problem stops the scan
// and is kept as a message "<what> at byte offset N"; a scanner is not reusable after that.
// Threading: one scanner per call; no shared state.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace telegate::pdata::json {

// Nesting limit for values the decoder skips (simdjson's default maximum depth).
inline constexpr int kMaxJsonDepth = 1024;

struct StringToken {
  std::string_view raw;  // bytes between the quotes, escapes unresolved
  bool escaped = false;  // raw contains at least one backslash escape
};

struct Number {
  bool is_int = false;  // no fraction or exponent, and within int64/uint64
  bool negative = false;
  uint64_t magnitude = 0;  // when is_int
  double value = 0;        // when !is_int
};

// Unescapes a string token validated by Scanner::string(). dst may be nullptr (length only).
// Returns the length of the unescaped bytes, which is at most raw.size().
size_t unescape(std::string_view raw, char* dst);

class Scanner {
 public:
  explicit Scanner(std::string_view text)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  // The current byte, or '\0' at the end of the text ('\0' is never valid outside strings).
  char peek() const { return p_ < end_ ? *p_ : '\0'; }
  bool atEnd() const { return p_ >= end_; }
  void advance() { ++p_; }
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  void skipWs() {
    while (p_ < end_ && static_cast<unsigned char>(*p_) <= ' ') {
      const char c = *p_;
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++p_;
    }
  }
  // Consumes c (after whitespace) or fails with "expected 'c'".
  bool expect(char c, const char* what) {
    skipWs();
    if (peek() == c) {
      ++p_;
      return true;
    }
    return fail(what);
  }

  // Reads a string; the cursor must be at its opening quote.
  bool string(StringToken* out) {
    const char* s = p_ + 1;
    const char* start = s;
    bool escaped = false;
    for (;;) {
#ifdef __SSE2__
      while (end_ - s >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
        const __m128i special =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                      _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                         _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v));
        const auto m = static_cast<unsigned>(_mm_movemask_epi8(special));
        if (m != 0) {
          s += std::countr_zero(m);
          goto found;
        }
        s += 16;
      }
#endif
      while (end_ - s >= 8) {
        uint64_t w;
        std::memcpy(&w, s, 8);
        const uint64_t m = specialBytes(w);
        if (m != 0) {
          s += (std::endian::native == std::endian::little ? std::countr_zero(m)
                                                           : std::countl_zero(m)) >>
               3;
          goto found;
        }
        s += 8;
      }
      while (s < end_ && !isSpecial(static_cast<unsigned char>(*s))) ++s;
      if (s >= end_) {
        p_ = s;
        return fail("unterminated string");
      }
    found:
      if (*s == '"') break;
      if (*s != '\\') {
        p_ = s;
        return fail("unescaped control character in string");
      }
      escaped = true;
      const char* next = escapeEnd(s);
      if (next == nullptr) return false;
      s = next;
    }
    out->raw = std::string_view(start, static_cast<size_t>(s - start));
    out->escaped = escaped;
    p_ = s + 1;
    return true;
  }

  // Reads a number; the cursor must be at '-' or a digit.
  bool number(Number* out);

  // Reads the literal `word` (true, false or null); the cursor must be at its first letter.
  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0) {
      return fail("invalid literal");
    }
    p_ += word.size();
    return true;
  }

  // Skips one value of any kind, checking it; it may nest up to kMaxJsonDepth levels.
  bool skipValue();

  // True when the current byte can start a JSON value (used to tell type errors from syntax
  // errors at a value's first byte).
  bool atValueStart() const {
    switch (peek()) {
      case '{':
      case '[':
      case '"':
      case '-':
      case 't':
      case 'f':
      case 'n':
        return true;
      default:
        return peek() >= '0' && peek() <= '9';
    }
  }

  bool failed() const {
    return what_ != nullptr;
  }
  bool fail(const char* what) {
    if (what_ == nullptr) {
      what_ = atEnd() ? "unexpected end of input" : what;
      error_offset_ = offset();
    }
    return false;
  }
  // "<what> at byte offset N", or "" when no syntax error happened.
  std::string error() const;

 private:
  static bool isSpecial(unsigned char c) {
    return c == '"' || c == '\\' || c < 0x20;
  }
  // High bit of each byte that is '"', '\\' or a control character. Bits above the first match
  // may be spurious (borrows), the lowest one is exact.
  static uint64_t specialBytes(uint64_t w) {
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHigh = 0x8080808080808080ull;
    const uint64_t q = w ^ (kOnes * '"');
    const uint64_t b = w ^ (kOnes * '\\');
    return (((q - kOnes) & ~q) | ((b - kOnes) & ~b) | ((w - kOnes * 0x20) & ~w)) & kHigh;
  }
  // Validates the escape at s (a backslash); returns the byte after it, or nullptr.
  const char* escapeEnd(const char* s);

  const char* begin_;
  const char* p_;
  const char* end_;
  const char* what_ = nullptr;
  size_t error_offset_ = 0;
};

}  // namespace telegate::pdata::json
