#include "src/pdata/json_scan.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "src/common/strings.h"

namespace telegate::pdata::json {
namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The 4 hex digits at p (known to be there and valid after Scanner::string()).
uint32_t hex4(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 4) | static_cast<uint32_t>(hexDigit(p[i]));
  return v;
}

size_t putUtf8(uint32_t cp, char* dst) {
  char buf[4];
  size_t n;
  if (cp < 0x80) {
    buf[0] = static_cast<char>(cp);
    n = 1;
  } else if (cp < 0x800) {
    buf[0] = static_cast<char>(0xC0 | (cp >> 6));
    buf[1] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    buf[0] = static_cast<char>(0xE0 | (cp >> 12));
    buf[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    buf[0] = static_cast<char>(0xF0 | (cp >> 18));
    buf[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 4;
  }
  if (dst != nullptr) std::memcpy(dst, buf, n);
  return n;
}

}  // namespace

size_t unescape(std::string_view raw, char* dst) {
  const char* s = raw.data();
  const char* end = s + raw.size();
  size_t n = 0;
  while (s < end) {
    const char* bs = static_cast<const char*>(std::memchr(s, '\\', static_cast<size_t>(end - s)));
    const size_t plain = static_cast<size_t>((bs == nullptr ? end : bs) - s);
    if (dst != nullptr) std::memcpy(dst + n, s, plain);
    n += plain;
    if (bs == nullptr) break;
    char c = bs[1];
    s = bs + 2;
    switch (c) {
      case 'b':
        c = '\b';
        break;
      case 'f':
        c = '\f';
        break;
      case 'n':
        c = '\n';
        break;
      case 'r':
        c = '\r';
        break;
      case 't':
        c = '\t';
        break;
      case 'u': {
        uint32_t cp = hex4(s);
        s += 4;
        if (cp >= 0xD800 && cp < 0xDC00) {  // paired with a low surrogate (checked by the scan)
          cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(s + 2) - 0xDC00);
          s += 6;
        }
        n += putUtf8(cp, dst == nullptr ? nullptr : dst + n);
        continue;
      }
      default:  // '"', '\\', '/'
        break;
    }
    if (dst != nullptr) dst[n] = c;
    ++n;
  }
  return n;
}

const char* Scanner::escapeEnd(const char* s) {
  auto bad = [&](const char* at, const char* what) -> const char* {
    p_ = at;
    fail(what);
    return nullptr;
  };
  if (end_ - s < 2) return bad(s, "unterminated string");
  switch (s[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      return s + 2;
    case 'u':
      break;
    default:
      return bad(s, "invalid escape in string");
  }
  auto hex = [&](const char* at, uint32_t* cp) {
    if (end_ - at < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = hexDigit(at[i]);
      if (d < 0) return false;
      v = (v << 4) | static_cast<uint32_t>(d);
    }
    *cp = v;
    return true;
  };
  uint32_t cp;
  if (!hex(s + 2, &cp)) return bad(s, "invalid \\u escape in string");
  if (cp >= 0xDC00 && cp < 0xE000) return bad(s, "unpaired surrogate in string");
  if (cp < 0xD800 || cp >= 0xDC00) return s + 6;
  uint32_t low;
  if (end_ - s < 12 || s[6] != '\\' || s[7] != 'u' || !hex(s + 8, &low) || low < 0xDC00 ||
      low >= 0xE000) {
    return bad(s, "unpaired surrogate in string");
  }
  return s + 12;
}

bool Scanner::number(Number* out) {
  const char* start = p_;
  const char* s = p_;
  const bool negative = *s == '-';
  if (negative) ++s;
  auto digit = [&](const char* at) { return at < end_ && *at >= '0' && *at <= '9'; };
  if (!digit(s)) {
    p_ = s;
    return fail("invalid number");
  }
  uint64_t m = 0;
  bool overflow = false;
  if (*s == '0') {
    ++s;
  } else {
    for (; digit(s); ++s) {
      const uint64_t d = static_cast<uint64_t>(*s - '0');
      if (m > (UINT64_MAX - d) / 10) overflow = true;
      m = m * 10 + d;
    }
  }
  bool is_int = true;
  if (s < end_ && *s == '.') {
    is_int = false;
    ++s;
    if (!digit(s)) {
      p_ = s;
      return fail("invalid number");
    }
    while (digit(s)) ++s;
  }
  if (s < end_ && (*s == 'e' || *s == 'E')) {
    is_int = false;
    ++s;
    if (s < end_ && (*s == '+' || *s == '-')) ++s;
    if (!digit(s)) {
      p_ = s;
      return fail("invalid number");
    }
    while (digit(s)) ++s;
  }
  if (digit(s) || (s < end_ && (*s == '.' || *s == 'e' || *s == 'E'))) {  // e.g. "01"
    p_ = s;
    return fail("invalid number");
  }
  if (is_int) {
    if (overflow || (negative && m > static_cast<uint64_t>(INT64_MAX) + 1)) {
      return fail("integer out of the 64-bit range");
    }
    out->is_int = true;
    out->negative = negative && m != 0;
    out->magnitude = m;
    p_ = s;
    return true;
  }
  double d = 0;
  auto [ptr, ec] = std::from_chars(start, s, d);
  if (ec == std::errc::result_out_of_range) {
    // Overflow is invalid (as in simdjson); underflow rounds to a (signed) zero or subnormal.
    std::string copy(start, s);
    d = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(d)) return fail("number out of the double range");
  } else if (ec != std::errc() || ptr != s) {
    return fail("invalid number");
  }
  out->is_int = false;
  out->value = d;
  p_ = s;
  return true;
}

bool Scanner::skipValue() {
  // The open containers as bits: 1 = object, 0 = array.
  uint64_t kinds[kMaxJsonDepth / 64 + 1] = {};
  int open = 0;
  auto isObject = [&] { return (kinds[(open - 1) / 64] >> ((open - 1) % 64)) & 1; };
  for (;;) {
    // A value.
    skipWs();
    const char c = peek();
    if (c == '{' || c == '[') {
      if (open + 1 > kMaxJsonDepth) return fail("JSON nesting too deep");
      ++p_;
      const uint64_t bit = 1ull << (open % 64);
      if (c == '{') {
        kinds[open / 64] |= bit;
      } else {
        kinds[open / 64] &= ~bit;
      }
      ++open;
      skipWs();
      if (peek() == (c == '{' ? '}' : ']')) {
        ++p_;
        --open;
      } else if (c == '{') {
        StringToken key;
        if (peek() != '"') return fail("expected a string key");
        if (!string(&key) || !expect(':', "expected ':'")) return false;
        continue;
      } else {
        continue;
      }
    } else if (c == '"') {
      StringToken s;
      if (!string(&s)) return false;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      Number n;
      if (!number(&n)) return false;
    } else if (c == 't') {
      if (!literal("true")) return false;
    } else if (c == 'f') {
      if (!literal("false")) return false;
    } else if (c == 'n') {
      if (!literal("null")) return false;
    } else {
      return fail(atEnd() ? "unexpected end of input" : "expected a value");
    }
    // After a value: close containers or move to the next member/element.
    for (;;) {
      if (open == 0) return true;
      skipWs();
      const bool obj = isObject();
      const char d = peek();
      if (d == ',') {
        ++p_;
        if (obj) {
          skipWs();
          StringToken key;
          if (peek() != '"') return fail("expected a string key");
          if (!string(&key) || !expect(':', "expected ':'")) return false;
        }
        break;
      }
      if (d == (obj ? '}' : ']')) {
        ++p_;
        --open;
        continue;
      }
      return fail(obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
}

std::string Scanner::error() const {
  if (what_ == nullptr) return "";
  return strCat(what_, " at byte offset ", error_offset_);
}

}  // namespace telegate::pdata::json
