// Go-compatible text formatting (see gofmt.h for the contract).
#include "src/common/gofmt.h"

#include <charconv>
#include <cmath>

namespace telegate::gofmt {

// Go's utf8.DecodeRuneInString: invalid input -> (RuneError, 1).
std::pair<uint32_t, size_t> decodeRune(std::string_view s, size_t i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t n = 0;
  uint32_t r = 0, min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2, r = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3, r = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4, r = b0 & 0x07, min = 0x10000;
  } else {
    return {kRuneError, 1};
  }
  if (i + n > s.size()) return {kRuneError, 1};
  for (size_t k = 1; k < n; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {kRuneError, 1};
    r = (r << 6) | (b & 0x3F);
  }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return {kRuneError, 1};
  return {r, n};
}

void appendRune(std::string* out, uint32_t r) {
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

// ---- Numbers ---------------------------------------------------------------------------------

// strconv.FormatFloat(f, 'f', -1, 64).
std::string formatFloatF(double f) {
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

// strconv.FormatFloat(f, 'e', -1, 64): shortest digits, exponent with at least two digits.
std::string formatFloatE(double f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  return std::string(buf, r.ptr);
}

// encoding/json float64 encoding. NaN and infinities are errors.
bool appendJsonFloat(std::string* out, double f) {
  if (std::isnan(f) || std::isinf(f)) return false;
  double a = std::fabs(f);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    std::string s = formatFloatE(f);
    size_t n = s.size();
    if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') {
      s[n - 2] = s[n - 1];
      s.pop_back();
    }
    out->append(s);
  } else {
    out->append(formatFloatF(f));
  }
  return true;
}

// fmt.Sprint(float64): %g with the shortest digits, exponent form when exp < -4 || exp >= 6.
std::string formatFloatV(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  if (f == 0) return std::signbit(f) ? "-0" : "0";
  std::string e = formatFloatE(f);  // d[.ddd]e±XX
  size_t epos = e.find('e');
  int exp = 0;
  const char* p = e.data() + epos + 1;
  bool neg = *p == '-';
  if (*p == '-' || *p == '+') ++p;
  std::from_chars(p, e.data() + e.size(), exp);
  if (neg) exp = -exp;
  if (exp < -4 || exp >= 6) return e;
  return formatFloatF(f);
}

// ---- logfmt (go-logfmt) ----------------------------------------------------------------------

namespace {

bool needsQuotedValueRune(uint32_t r) {
  return r <= ' ' || r == '=' || r == '"' || r == kRuneError;
}

void writeQuotedLogfmt(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b >= 0x20 && b != '\\' && b != '"') {
        out->push_back(static_cast<char>(b));
      } else if (b == '\\' || b == '"') {
        out->push_back('\\');
        out->push_back(static_cast<char>(b));
      } else if (b == '\n') {
        out->append("\\n");
      } else if (b == '\r') {
        out->append("\\r");
      } else if (b == '\t') {
        out->append("\\t");
      } else {
        out->append("\\u00");
        out->push_back(kHex[b >> 4]);
        out->push_back(kHex[b & 15]);
      }
      ++i;
      continue;
    }
    auto [r, size] = decodeRune(s, i);
    if (r == kRuneError && size == 1) {
      out->append("\\ufffd");
    } else {
      out->append(s.substr(i, size));
    }
    i += size;
  }
  out->push_back('"');
}

bool anyRune(std::string_view s, bool (*pred)(uint32_t)) {
  for (size_t i = 0; i < s.size();) {
    auto [r, n] = decodeRune(s, i);
    if (pred(r)) return true;
    i += n;
  }
  return false;
}

// unquoteBytes of go-logfmt (JSON-style escapes). False when invalid.
bool unquoteLogfmt(std::string_view q, std::string* out) {
  if (q.size() < 2 || q.front() != '"' || q.back() != '"') return false;
  q = q.substr(1, q.size() - 2);
  for (size_t i = 0; i < q.size();) {
    char c = q[i];
    if (c == '"') return false;
    if (c != '\\') {
      if (static_cast<unsigned char>(c) < 0x80) {
        out->push_back(c);
        ++i;
      } else {
        auto [r, n] = decodeRune(q, i);
        if (r == kRuneError && n == 1) {
          out->append("\xEF\xBF\xBD");
        } else {
          out->append(q.substr(i, n));
        }
        i += n;
      }
      continue;
    }
    if (i + 1 >= q.size()) return false;
    char e = q[i + 1];
    i += 2;
    switch (e) {
      case '"':
      case '\\':
      case '/':
      case '\'':
        out->push_back(e);
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'u': {
        if (i + 4 > q.size()) return false;
        uint32_t r = 0;
        for (size_t k = 0; k < 4; ++k) {
          char h = q[i + k];
          r <<= 4;
          if (h >= '0' && h <= '9')
            r |= h - '0';
          else if (h >= 'a' && h <= 'f')
            r |= h - 'a' + 10;
          else if (h >= 'A' && h <= 'F')
            r |= h - 'A' + 10;
          else
            return false;
        }
        i += 4;
        if (r >= 0xD800 && r < 0xDC00 && i + 6 <= q.size() && q[i] == '\\' && q[i + 1] == 'u') {
          uint32_t lo = 0;
          bool ok = true;
          for (size_t k = 0; k < 4; ++k) {
            char h = q[i + 2 + k];
            lo <<= 4;
            if (h >= '0' && h <= '9')
              lo |= h - '0';
            else if (h >= 'a' && h <= 'f')
              lo |= h - 'a' + 10;
            else if (h >= 'A' && h <= 'F')
              lo |= h - 'A' + 10;
            else
              ok = false;
          }
          if (ok && lo >= 0xDC00 && lo < 0xE000) {
            r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          } else {
            r = kRuneError;
          }
        } else if (r >= 0xD800 && r < 0xE000) {
          r = kRuneError;
        }
        appendRune(out, r);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace

bool encodeLogfmt(const std::vector<LogfmtKeyVal>& kvs, std::string* out, std::string* err) {
  for (const auto& kv : kvs) {
    if (kv.is_nil) {
      *err = "nil key";
      return false;
    }
    std::string key;
    for (size_t i = 0; i < kv.key.size();) {
      auto [r, n] = decodeRune(kv.key, i);
      if (!(r <= ' ' || r == '=' || r == '"' || r == kRuneError)) key.append(kv.key, i, n);
      i += n;
    }
    if (key.empty()) {
      *err = "invalid key";
      return false;
    }
    if (!out->empty()) out->push_back(' ');
    out->append(key);
    out->push_back('=');
    if (!kv.is_bytes && kv.value == "null") {
      out->append("\"null\"");
    } else if (anyRune(kv.value, needsQuotedValueRune)) {
      writeQuotedLogfmt(out, kv.value);
    } else {
      out->append(kv.value);
    }
  }
  return true;
}

// go-logfmt Decoder over the first line of `text`: ScanRecord + ScanKeyval. False on a syntax
// error (the caller then uses msg=<body>).
bool parseLogfmtLine(std::string_view text, std::vector<LogfmtKeyVal>* out) {
  size_t nl = text.find('\n');
  std::string_view line = nl == std::string_view::npos ? text : text.substr(0, nl);
  if (nl != std::string_view::npos && !line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() >= 64 * 1024) return false;  // bufio.Scanner: token too long
  size_t pos = 0;
  auto le = [](char c) { return static_cast<unsigned char>(c) <= ' '; };
  while (true) {
    while (pos < line.size() && le(line[pos])) ++pos;
    if (pos >= line.size()) return true;
    // key
    size_t start = pos;
    bool multibyte = false;
    LogfmtKeyVal kv;
    kv.is_bytes = true;
    while (pos < line.size() && line[pos] != '=' && !le(line[pos])) {
      if (line[pos] == '"') return false;
      if (static_cast<unsigned char>(line[pos]) >= 0x80) multibyte = true;
      ++pos;
    }
    kv.key = std::string(line.substr(start, pos - start));
    if (multibyte) {
      for (size_t i = 0; i < kv.key.size();) {
        auto [r, n] = decodeRune(kv.key, i);
        if (r == kRuneError) return false;
        i += n;
      }
    }
    if (pos >= line.size() || le(line[pos])) {
      out->push_back(std::move(kv));
      continue;
    }
    // line[pos] == '='
    if (pos == start) return false;  // unexpected '='
    ++pos;
    if (pos >= line.size() || le(line[pos])) {
      out->push_back(std::move(kv));
      continue;
    }
    if (line[pos] == '"') {
      bool esc = false, has_esc = false;
      size_t q = pos + 1;
      for (; q < line.size(); ++q) {
        char c = line[q];
        if (esc) {
          esc = false;
        } else if (c == '\\') {
          has_esc = esc = true;
        } else if (c == '"') {
          break;
        }
      }
      if (q >= line.size()) return false;  // unterminated quoted value
      std::string_view quoted = line.substr(pos, q + 1 - pos);
      if (has_esc) {
        if (!unquoteLogfmt(quoted, &kv.value)) return false;
      } else {
        kv.value = std::string(quoted.substr(1, quoted.size() - 2));
      }
      pos = q + 1;
      out->push_back(std::move(kv));
      continue;
    }
    start = pos;
    while (pos < line.size() && !le(line[pos])) {
      if (line[pos] == '=' || line[pos] == '"') return false;
      ++pos;
    }
    kv.value = std::string(line.substr(start, pos - start));
    out->push_back(std::move(kv));
  }
}

void appendQuote(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      switch (b) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\a':
          out->append("\\a");
          break;
        case '\b':
          out->append("\\b");
          break;
        case '\f':
          out->append("\\f");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        case '\v':
          out->append("\\v");
          break;
        default:
          if (b < 0x20 || b == 0x7f) {
            out->append("\\x");
            out->push_back(kHex[b >> 4]);
            out->push_back(kHex[b & 15]);
          } else {
            out->push_back(static_cast<char>(b));
          }
      }
      ++i;
      continue;
    }
    auto [r, n] = decodeRune(s, i);
    if (r == kRuneError && n == 1) {
      out->append("\\x");
      out->push_back(kHex[b >> 4]);
      out->push_back(kHex[b & 15]);
      ++i;
      continue;
    }
    if ((r >= 0x80 && r < 0xA0) || r == 0xAD || r == 0x2028 || r == 0x2029 || r == 0xFEFF) {
      out->append("\\u");
      for (int sh = 12; sh >= 0; sh -= 4) out->push_back(kHex[(r >> sh) & 15]);
    } else {
      out->append(s.substr(i, n));
    }
    i += n;
  }
  out->push_back('"');
}

}  // namespace telegate::gofmt
