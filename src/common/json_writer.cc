// One JSON string writer (see json_writer.h for the contract).
#include "src/common/json_writer.h"

#include <array>
#include <cstdint>

#include "src/common/gofmt.h"

namespace telegate::json {
namespace {

// ASCII bytes copied as they are: printable except '"' and '\\' (and '<', '>', '&' when
// html-safe).
constexpr std::array<bool, 256> plainTable(bool html_safe) {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) {
    t[c] = c != '"' && c != '\\' && !(html_safe && (c == '<' || c == '>' || c == '&'));
  }
  return t;
}
constexpr auto kPlain = plainTable(false);
constexpr auto kPlainHtml = plainTable(true);

constexpr char kHex[] = "0123456789abcdef";

void appendHexEscape(std::string* out, uint32_t c) {
  char buf[6] = {'\\',        'u', kHex[(c >> 12) & 15], kHex[(c >> 8) & 15], kHex[(c >> 4) & 15],
                 kHex[c & 15]};
  out->append(buf, sizeof(buf));
}

// An ASCII byte that is not plain.
void appendEscapedAscii(std::string* out, unsigned char b, StringStyle::Controls controls) {
  if (b == '"' || b == '\\') {
    out->push_back('\\');
    out->push_back(static_cast<char>(b));
    return;
  }
  if (controls != StringStyle::Controls::kHex) {
    switch (b) {
      case '\n':
        out->append("\\n");
        return;
      case '\r':
        out->append("\\r");
        return;
      case '\t':
        out->append("\\t");
        return;
      case '\b':
      case '\f':
        if (controls == StringStyle::Controls::kShort) {
          out->append(b == '\b' ? "\\b" : "\\f");
          return;
        }
        break;
      default:
        break;
    }
  }
  appendHexEscape(out, b);  // control characters, and '<', '>', '&' when html-safe
}

}  // namespace

void appendString(std::string* out, std::string_view s, const StringStyle& style) {
  const std::array<bool, 256>& plain = style.html_safe ? kPlainHtml : kPlain;
  const bool copy_high = !style.replace_invalid_utf8;
  auto isPlain = [&](unsigned char c) { return plain[c] || (c >= 0x80 && copy_high); };
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (isPlain(b)) {
      // Copy the whole run of bytes that need no escaping at once.
      size_t j = i + 1;
      while (j < s.size() && isPlain(static_cast<unsigned char>(s[j]))) ++j;
      out->append(s.data() + i, j - i);
      i = j;
      continue;
    }
    if (b < 0x80) {
      appendEscapedAscii(out, b, style.controls);
      ++i;
      continue;
    }
    auto [r, n] = gofmt::decodeRune(s, i);
    if (r == gofmt::kRuneError && n == 1) {
      out->append("\\ufffd");
    } else if (style.html_safe && (r == 0x2028 || r == 0x2029)) {
      appendHexEscape(out, r);
    } else {
      out->append(s.data() + i, n);
    }
    i += n;
  }
  out->push_back('"');
}

std::string quote(std::string_view s, const StringStyle& style) {
  std::string out;
  out.reserve(s.size() + 2);
  appendString(&out, s, style);
  return out;
}

}  // namespace telegate::json
