#include "src/pdata/otlp_json_values.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

namespace telegate::pdata::json_values {
namespace {

using otlp_schema::Kind;

// Hex digit values; -1 for anything else.
constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<int8_t>(i);
  for (int i = 0; i < 6; ++i) {
    t['a' + i] = static_cast<int8_t>(10 + i);
    t['A' + i] = static_cast<int8_t>(10 + i);
  }
  return t;
}();

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // standard and URL-safe alphabets
  if (c == '/' || c == '_') return 63;
  return -1;
}

}  // namespace

const char* intText(std::string_view s, JsonInt* out) {
  size_t i = 0;
  out->negative = false;
  if (!s.empty() && s[0] == '-') {
    out->negative = true;
    i = 1;
  }
  if (i == s.size()) return "expected an integer";
  uint64_t m = 0;
  // Up to 19 digits cannot overflow; check only past that.
  for (const size_t fast = std::min(s.size(), i + 19); i < fast; ++i) {
    const auto d = static_cast<unsigned char>(s[i] - '0');
    if (d > 9) return "expected an integer";
    m = m * 10 + d;
  }
  for (; i < s.size(); ++i) {
    const auto d = static_cast<unsigned char>(s[i] - '0');
    if (d > 9) return "expected an integer";
    if (m > (UINT64_MAX - d) / 10) return "integer out of range";
    m = m * 10 + d;
  }
  out->magnitude = m;
  if (m == 0) out->negative = false;
  return nullptr;
}

bool inRange(Kind kind, const JsonInt& n, uint64_t* bits) {
  uint64_t max_pos = 0, max_neg = 0;  // largest magnitude allowed when positive / negative
  switch (kind) {
    case Kind::kInt32:
    case Kind::kSInt32:
    case Kind::kEnum:
      max_pos = INT32_MAX;
      max_neg = static_cast<uint64_t>(INT32_MAX) + 1;
      break;
    case Kind::kUInt32:
    case Kind::kFixed32:
      max_pos = UINT32_MAX;
      break;
    case Kind::kInt64:
    case Kind::kSFixed64:
      max_pos = INT64_MAX;
      max_neg = static_cast<uint64_t>(INT64_MAX) + 1;
      break;
    default:  // kUInt64, kFixed64
      max_pos = UINT64_MAX;
      break;
  }
  if (n.magnitude > (n.negative ? max_neg : max_pos)) return false;
  *bits = n.bits();
  return true;
}

const char* doubleText(std::string_view s, double* out) {
  if (s == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return nullptr;
  }
  if (s == "Infinity") {
    *out = std::numeric_limits<double>::infinity();
    return nullptr;
  }
  if (s == "-Infinity") {
    *out = -std::numeric_limits<double>::infinity();
    return nullptr;
  }
  const size_t digit = !s.empty() && s[0] == '-' ? 1 : 0;
  if (s.size() <= digit || !((s[digit] >= '0' && s[digit] <= '9') || s[digit] == '.')) {
    return "expected a number";
  }
  double d = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec == std::errc::result_out_of_range) return "number out of range";
  if (ec != std::errc() || ptr != s.data() + s.size()) return "expected a number";
  *out = d;
  return nullptr;
}

bool hexBytes(std::string_view hex, char* bytes) {
  int bad = 0;
  for (size_t i = 0; i < hex.size() / 2; ++i) {
    const int hi = kHexValue[static_cast<uint8_t>(hex[2 * i])];
    const int lo = kHexValue[static_cast<uint8_t>(hex[2 * i + 1])];
    bad |= hi | lo;
    bytes[i] = static_cast<char>((static_cast<unsigned>(hi) << 4) | static_cast<unsigned>(lo));
  }
  return bad >= 0;
}

bool base64Size(std::string_view b64, size_t* chars, size_t* decoded) {
  size_t n = b64.size();
  if (n > 0 && b64[n - 1] == '=') --n;
  if (n > 0 && b64[n - 1] == '=') --n;
  if (n % 4 == 1) return false;
  *chars = n;
  *decoded = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
  return true;
}

bool base64Decode(std::string_view data_chars, char* dst) {
  uint32_t acc = 0;
  int bits = 0;
  for (const char c : data_chars) {
    const int v = base64Value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (dst != nullptr) *dst++ = static_cast<char>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return true;
}

}  // namespace telegate::pdata::json_values
