#include "src/syntax/stdlib.h"

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "src/common/version.h"
#include "src/syntax/text.h"

namespace telegate::syntax {
namespace {

using Args = std::span<const Value>;
using Result = absl::StatusOr<Value>;

constexpr char kDeprecation[] =
    "please refer to the documentation for updated usage and alternatives";

absl::Status argError(std::string msg) {
  return absl::InvalidArgumentError(std::move(msg));
}

absl::Status checkCount(Args args, size_t n) {
  if (args.size() != n)
    return argError(absl::StrFormat("expected %d args, got %d", n, args.size()));
  return absl::OkStatus();
}

std::string numberString(const Value& v) {
  switch (v.numberKind()) {
    case NumberKind::kInt:
      return strCat(v.asInt());
    case NumberKind::kUint:
      return strCat(v.asUint());
    case NumberKind::kFloat:
      return formatFloatShortest(v.asFloat());
  }
  return "";
}

// Decodes an argument into a Go string: strings as is, numbers converted to their decimal text.
// Secrets are refused (only convert.nonsensitive accepts them).
absl::StatusOr<std::string> stringArg(const Value& v) {
  if (v.type() == ValueType::kString) {
    if (v.isSecret()) return argError("expected string, got secret");
    return v.asString();
  }
  if (v.type() == ValueType::kNumber) return numberString(v);
  return argError(strCat("expected string, got ", typeName(v.type())));
}

#define TG_ASSIGN_OR_RETURN(lhs, expr)          \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)

#define TG_RETURN_IF_ERROR(expr) \
  do {                           \
    absl::Status st_ = (expr);   \
    if (!st_.ok()) return st_;   \
  } while (0)

// ---- helpers implementing Go's strings package semantics ----

std::vector<std::string> goSplit(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  if (sep.empty()) {
    for (size_t i = 0; i < s.size();) {
      int w;
      bool ok;
      decodeRune(s, i, &w, &ok);
      out.emplace_back(s.substr(i, w));
      i += w;
    }
    return out;
  }
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) break;
    out.emplace_back(s.substr(start, p - start));
    start = p + sep.size();
  }
  out.emplace_back(s.substr(start));
  return out;
}

std::string goReplaceAll(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  if (from.empty()) {
    // Go inserts `to` before every rune and at the end.
    out += to;
    for (size_t i = 0; i < s.size();) {
      int w;
      bool ok;
      decodeRune(s, i, &w, &ok);
      out += s.substr(i, w);
      out += to;
      i += w;
    }
    return out;
  }
  size_t start = 0;
  for (;;) {
    size_t p = s.find(from, start);
    if (p == std::string_view::npos) break;
    out += s.substr(start, p - start);
    out += to;
    start = p + from.size();
  }
  out += s.substr(start);
  return out;
}

std::string mapRunes(std::string_view s, char32_t (*fn)(char32_t)) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    int w;
    bool ok;
    char32_t c = decodeRune(s, i, &w, &ok);
    if (ok) {
      appendUtf8(&out, fn(c));
    } else {
      appendUtf8(&out, 0xFFFD);
    }
    i += w;
  }
  return out;
}

template <typename Pred>
std::string_view trimLeftFunc(std::string_view s, Pred pred) {
  size_t i = 0;
  while (i < s.size()) {
    int w;
    bool ok;
    char32_t c = decodeRune(s, i, &w, &ok);
    if (!pred(c)) break;
    i += w;
  }
  return s.substr(i);
}

// Start offset of the last rune of s (s non-empty).
size_t lastRuneStart(std::string_view s) {
  size_t i = s.size() - 1;
  size_t limit = s.size() >= 4 ? s.size() - 4 : 0;
  while (i > limit && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  int w;
  bool ok;
  decodeRune(s, i, &w, &ok);
  if (!ok || i + w != s.size()) return s.size() - 1;
  return i;
}

template <typename Pred>
std::string_view trimRightFunc(std::string_view s, Pred pred) {
  while (!s.empty()) {
    size_t start = lastRuneStart(s);
    int w;
    bool ok;
    char32_t c = decodeRune(s, start, &w, &ok);
    if (!ok) c = 0xFFFD;
    if (!pred(c)) break;
    s = s.substr(0, start);
  }
  return s;
}

std::string goTrim(std::string_view s, std::string_view cutset) {
  std::u32string set;
  for (size_t i = 0; i < cutset.size();) {
    int w;
    bool ok;
    set.push_back(decodeRune(cutset, i, &w, &ok));
    i += w;
  }
  auto in = [&](char32_t c) { return set.find(c) != std::u32string::npos; };
  return std::string(trimRightFunc(trimLeftFunc(s, in), in));
}

std::string goTrimSpace(std::string_view s) {
  auto sp = [](char32_t c) { return isGoSpace(c); };
  return std::string(trimRightFunc(trimLeftFunc(s, sp), sp));
}

// Go's path/filepath.Clean for slash-separated paths.
std::string cleanPath(std::string_view p) {
  if (p.empty()) return ".";
  bool rooted = p[0] == '/';
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view seg = p.substr(i, j - i);
    i = j + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.emplace_back(seg);
      }
      continue;
    }
    parts.emplace_back(seg);
  }
  std::string out = rooted ? "/" : "";
  out += absl::StrJoin(parts, "/");
  if (out.empty()) out = ".";
  return out;
}

// ---- JSON ----

Value fromJson(simdjson::dom::element el) {
  switch (el.type()) {
    case simdjson::dom::element_type::ARRAY: {
      Array items;
      simdjson::dom::array arr;
      if (el.get(arr) == simdjson::SUCCESS) {
        for (simdjson::dom::element child : arr) items.push_back(fromJson(child));
      }
      return Value::array(std::move(items));
    }
    case simdjson::dom::element_type::OBJECT: {
      Object fields;
      simdjson::dom::object obj;
      if (el.get(obj) == simdjson::SUCCESS) {
        for (simdjson::dom::key_value_pair kv : obj) {
          fields.insert_or_assign(std::string(kv.key), fromJson(kv.value));
        }
      }
      return Value::object(std::move(fields));
    }
    case simdjson::dom::element_type::INT64: {
      int64_t v = 0;
      if (el.get(v) != simdjson::SUCCESS) return Value();
      return Value::floating(static_cast<double>(v));
    }
    case simdjson::dom::element_type::UINT64: {
      uint64_t v = 0;
      if (el.get(v) != simdjson::SUCCESS) return Value();
      return Value::floating(static_cast<double>(v));
    }
    case simdjson::dom::element_type::DOUBLE: {
      double v = 0;
      if (el.get(v) != simdjson::SUCCESS) return Value();
      return Value::floating(v);
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view v;
      if (el.get(v) != simdjson::SUCCESS) return Value();
      return Value::string(std::string(v));
    }
    case simdjson::dom::element_type::BOOL: {
      bool v = false;
      if (el.get(v) != simdjson::SUCCESS) return Value();
      return Value::boolean(v);
    }
    case simdjson::dom::element_type::NULL_VALUE:
      return Value();
  }
  return Value();
}

Result jsonDecode(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 1));
  TG_ASSIGN_OR_RETURN(in, stringArg(args[0]));
  simdjson::dom::parser parser;
  simdjson::padded_string padded(in);
  simdjson::dom::element doc;
  auto err = parser.parse(padded).get(doc);
  if (err != simdjson::SUCCESS) {
    return argError(strCat("invalid JSON: ", simdjson::error_message(err)));
  }
  return fromJson(doc);
}

Result jsonEncode(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 1));
  if (args[0].type() != ValueType::kObject) return argError("jsonEncode only supports map");
  return Value::string(toJson(args[0]));
}

// ---- base64 / URL ----

Result base64Decode(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 1));
  TG_ASSIGN_OR_RETURN(in, stringArg(args[0]));
  std::string out;
  if (!absl::Base64Unescape(in, &out)) return argError("illegal base64 data");
  return Value::string(std::move(out));
}

Result base64Encode(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 1));
  TG_ASSIGN_OR_RETURN(in, stringArg(args[0]));
  return Value::string(absl::Base64Escape(in));
}

Result urlEncode(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 1));
  TG_ASSIGN_OR_RETURN(in, stringArg(args[0]));
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out += absl::StrFormat("%%%02X", c);
    }
  }
  return Value::string(std::move(out));
}

Result urlDecode(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 1));
  TG_ASSIGN_OR_RETURN(in, stringArg(args[0]));
  std::string out;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) {
        return argError(absl::StrFormat("invalid URL escape %s", goQuote(in.substr(i, 3))));
      }
      int h = hex(in[i + 1]), l = hex(in[i + 2]);
      if (h < 0 || l < 0) {
        return argError(absl::StrFormat("invalid URL escape %s", goQuote(in.substr(i, 3))));
      }
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return Value::string(std::move(out));
}

// ---- string.format: Go fmt.Sprintf ----
//
// Supported: verbs %v %s %d %q %f %F %e %E %g %G %x %X %o %b %c %t %%, flags "+- 0#", width and
// precision (also "*"). Mismatches render like Go instead of failing: "%!d(string=x)" for a bad
// verb, "%!d(MISSING)" for a missing argument and "%!(EXTRA type=value, ...)" for extra ones.
// Secret arguments render as "(secret)"; a secret format string is an error.

struct Spec {
  bool minus = false, plus = false, zero = false, space = false, sharp = false;
  int width = -1, prec = -1;
};

std::string goTypeName(const Value& v) {
  switch (v.type()) {
    case ValueType::kNumber:
      switch (v.numberKind()) {
        case NumberKind::kInt:
          return "int";
        case NumberKind::kUint:
          return "uint";
        case NumberKind::kFloat:
          return "float64";
      }
      return "float64";
    case ValueType::kString:
      return "string";
    case ValueType::kBool:
      return "bool";
    case ValueType::kArray:
      return "[]interface {}";
    case ValueType::kObject:
      return "map[string]interface {}";
    case ValueType::kFunction:
      return "func";
    case ValueType::kCapsule:
      return "capsule";
    case ValueType::kNull:
      return "<nil>";
  }
  return "?";
}

struct Digits {
  std::string d;  // significant digits, no trailing zeros ("" for zero)
  int dp = 0;     // decimal point position
};

// Digits of |f| via to_chars scientific (shortest when prec < 0, else prec+1 significant digits).
Digits digitsOf(double f, int prec) {
  Digits out;
  char buf[512];
  std::to_chars_result r =
      prec < 0 ? std::to_chars(buf, buf + sizeof(buf), std::fabs(f), std::chars_format::scientific)
               : std::to_chars(buf, buf + sizeof(buf), std::fabs(f), std::chars_format::scientific,
                               prec);
  std::string_view s(buf, r.ptr - buf);
  size_t e = s.find('e');
  std::string_view mant = s.substr(0, e);
  int exp = 0;
  if (e != std::string_view::npos) {
    std::string_view es = s.substr(e + 1);
    if (!es.empty() && es[0] == '+') es.remove_prefix(1);
    std::from_chars(es.data(), es.data() + es.size(), exp);
  }
  for (char c : mant) {
    if (c != '.') out.d.push_back(c);
  }
  while (!out.d.empty() && out.d.back() == '0') out.d.pop_back();
  if (out.d.empty()) {
    out.dp = 0;
    return out;
  }
  out.dp = exp + 1;
  return out;
}

std::string fmtE(const Digits& d, int prec, char e) {
  std::string out;
  out.push_back(d.d.empty() ? '0' : d.d[0]);
  if (prec > 0) {
    out.push_back('.');
    for (int i = 1; i <= prec; ++i) {
      out.push_back(static_cast<size_t>(i) < d.d.size() ? d.d[i] : '0');
    }
  }
  int exp = d.d.empty() ? 0 : d.dp - 1;
  out.push_back(e);
  out.push_back(exp < 0 ? '-' : '+');
  if (exp < 0) exp = -exp;
  if (exp < 10) out.push_back('0');
  out += std::to_string(exp);
  return out;
}

std::string fmtF(const Digits& d, int prec) {
  std::string out;
  if (d.dp > 0) {
    for (int i = 0; i < d.dp; ++i) {
      out.push_back(static_cast<size_t>(i) < d.d.size() ? d.d[i] : '0');
    }
  } else {
    out.push_back('0');
  }
  if (prec > 0) {
    out.push_back('.');
    for (int i = 0; i < prec; ++i) {
      int k = d.dp + i;
      out.push_back(k >= 0 && static_cast<size_t>(k) < d.d.size() ? d.d[k] : '0');
    }
  }
  return out;
}

// Go's %g (and %v for floats): shortest digits when prec < 0.
std::string fmtG(double f, int prec, char e) {
  bool shortest = prec < 0;
  if (prec == 0) prec = 1;
  Digits d = digitsOf(f, shortest ? -1 : prec - 1);
  int nd = static_cast<int>(d.d.size());
  if (shortest) prec = nd;
  int eprec = prec;
  if (eprec > nd && nd >= d.dp) eprec = nd;
  if (shortest) eprec = 6;
  int exp = d.dp - 1;
  if (nd == 0) exp = 0;
  if (exp < -4 || exp >= eprec) {
    if (prec > nd) prec = nd;
    return fmtE(d, std::max(prec - 1, 0), e);
  }
  if (prec > d.dp) prec = nd;
  return fmtF(d, std::max(prec - d.dp, 0));
}

std::string fmtFloat(double f, char verb, const Spec& sp) {
  std::string body;
  if (std::isnan(f)) {
    body = "NaN";
  } else if (std::isinf(f)) {
    body = "Inf";
  } else {
    char buf[512];
    switch (verb) {
      case 'f':
      case 'F': {
        auto r = std::to_chars(buf, buf + sizeof(buf), std::fabs(f), std::chars_format::fixed,
                               sp.prec < 0 ? 6 : sp.prec);
        body.assign(buf, r.ptr);
        break;
      }
      case 'e':
      case 'E': {
        Digits d = digitsOf(f, sp.prec < 0 ? 6 : sp.prec);
        body = fmtE(d, sp.prec < 0 ? 6 : sp.prec, verb);
        break;
      }
      case 'G':
        body = fmtG(f, sp.prec, 'E');
        break;
      default:
        body = fmtG(f, sp.prec, 'e');
        break;
    }
  }
  bool neg = std::signbit(f) && !std::isnan(f);
  std::string sign = neg ? "-" : (sp.plus || std::isinf(f) ? "+" : (sp.space ? " " : ""));
  if (std::isnan(f)) sign = sp.plus ? "+" : (sp.space ? " " : "");
  if (sp.width >= 0 && sp.zero && !sp.minus && !std::isinf(f) && !std::isnan(f)) {
    int len = static_cast<int>(sign.size() + body.size());
    if (len < sp.width) body.insert(0, static_cast<size_t>(sp.width - len), '0');
  }
  return sign + body;
}

std::string fmtInteger(bool neg, uint64_t mag, char verb, const Spec& sp) {
  std::string digits;
  int base = 10;
  switch (verb) {
    case 'x':
    case 'X':
      base = 16;
      break;
    case 'o':
      base = 8;
      break;
    case 'b':
      base = 2;
      break;
    default:
      break;
  }
  const char* alphabet = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits.insert(digits.begin(), alphabet[mag % base]);
    mag /= base;
  } while (mag > 0);
  if (sp.prec >= 0) {
    if (sp.prec == 0 && digits == "0") digits.clear();
    while (static_cast<int>(digits.size()) < sp.prec) digits.insert(digits.begin(), '0');
  }
  std::string prefix;
  if (sp.sharp) {
    if (base == 16) prefix = verb == 'X' ? "0X" : "0x";
    if (base == 8 && (digits.empty() || digits[0] != '0')) prefix = "0";
    if (base == 2) prefix = "0b";
  }
  std::string sign = neg ? "-" : (sp.plus ? "+" : (sp.space ? " " : ""));
  if (sp.width >= 0 && sp.zero && !sp.minus && sp.prec < 0) {
    int len = static_cast<int>(sign.size() + prefix.size() + digits.size());
    if (len < sp.width) digits.insert(0, static_cast<size_t>(sp.width - len), '0');
  }
  return sign + prefix + digits;
}

std::string pad(std::string s, const Spec& sp, bool zero_ok) {
  if (sp.width < 0) return s;
  size_t n = runeCount(s);
  if (n >= static_cast<size_t>(sp.width)) return s;
  size_t fill = static_cast<size_t>(sp.width) - n;
  if (sp.minus) return s + std::string(fill, ' ');
  return std::string(fill, zero_ok && sp.zero ? '0' : ' ') + s;
}

std::string formatValue(const Value& v, char verb, const Spec& sp);

std::string badVerb(const Value& v, char verb) {
  if (v.isNull()) return strCat("%!", std::string(1, verb), "(<nil>)");
  Spec plain;
  return strCat("%!", std::string(1, verb), "(", goTypeName(v), "=", formatValue(v, 'v', plain),
                ")");
}

std::string formatValue(const Value& v, char verb, const Spec& sp) {
  switch (v.type()) {
    case ValueType::kNull:
      if (verb == 'v') return pad("<nil>", sp, false);
      return badVerb(v, verb);
    case ValueType::kBool:
      if (verb == 'v' || verb == 't') return pad(v.asBool() ? "true" : "false", sp, false);
      return badVerb(v, verb);
    case ValueType::kString: {
      std::string s = v.isSecret() ? std::string("(secret)") : v.asString();
      switch (verb) {
        case 'v':
        case 's':
          if (sp.prec >= 0) {
            // Precision truncates to that many runes.
            size_t i = 0;
            for (int k = 0; k < sp.prec && i < s.size(); ++k) {
              int w;
              bool ok;
              decodeRune(s, i, &w, &ok);
              i += w;
            }
            s.resize(i);
          }
          return pad(std::move(s), sp, true);
        case 'q':
          return pad(goQuote(s), sp, true);
        case 'x':
        case 'X': {
          std::string out;
          for (unsigned char c : s) {
            out += verb == 'x' ? absl::StrFormat("%02x", c) : absl::StrFormat("%02X", c);
          }
          return pad(std::move(out), sp, true);
        }
        default:
          return badVerb(v, verb);
      }
    }
    case ValueType::kNumber: {
      if (v.numberKind() == NumberKind::kFloat) {
        switch (verb) {
          case 'v':
          case 'f':
          case 'F':
          case 'e':
          case 'E':
          case 'g':
          case 'G':
            return pad(fmtFloat(v.asFloat(), verb, sp), sp, false);
          default:
            return badVerb(v, verb);
        }
      }
      bool neg = v.numberKind() == NumberKind::kInt && v.asInt() < 0;
      uint64_t mag = neg ? 0 - static_cast<uint64_t>(v.asInt()) : v.asUint();
      switch (verb) {
        case 'v':
        case 'd':
        case 'x':
        case 'X':
        case 'o':
        case 'b':
          return pad(fmtInteger(neg, mag, verb, sp), sp, false);
        case 'c': {
          std::string out;
          appendUtf8(&out, neg || mag > 0x10FFFF ? 0xFFFD : static_cast<char32_t>(mag));
          return pad(std::move(out), sp, false);
        }
        case 'q': {
          std::string out;
          appendUtf8(&out, neg || mag > 0x10FFFF ? 0xFFFD : static_cast<char32_t>(mag));
          std::string q = goQuote(out);
          if (out == "'") {
            q = "'\\''";
          } else if (q.size() >= 2) {
            std::string inner = q.substr(1, q.size() - 2);
            if (inner == "\\\"") inner = "\"";
            q = "'" + inner + "'";
          }
          return pad(std::move(q), sp, false);
        }
        default:
          return badVerb(v, verb);
      }
    }
    case ValueType::kArray: {
      std::vector<std::string> parts;
      Spec inner = sp;
      inner.width = -1;
      for (const Value& e : v.asArray()) parts.push_back(formatValue(e, verb, inner));
      return pad(strCat("[", absl::StrJoin(parts, " "), "]"), sp, false);
    }
    case ValueType::kObject: {
      std::vector<std::string> parts;
      Spec inner = sp;
      inner.width = -1;
      for (const auto& [k, e] : v.asObject()) {
        parts.push_back(strCat(k, ":", formatValue(e, verb, inner)));
      }
      return pad(strCat("map[", absl::StrJoin(parts, " "), "]"), sp, false);
    }
    case ValueType::kFunction:
      return pad(verb == 'v' ? "function" : badVerb(v, verb), sp, false);
    case ValueType::kCapsule:
      return pad(v.asCapsule() ? v.asCapsule()->describe() : "capsule", sp, false);
  }
  return "";
}

Result sprintf(Args args) {
  if (args.empty()) return argError("expected at least 1 args, got 0");
  TG_ASSIGN_OR_RETURN(f, stringArg(args[0]));
  std::string out;
  size_t argi = 1;
  size_t i = 0;
  while (i < f.size()) {
    char c = f[i];
    if (c != '%') {
      out.push_back(c);
      ++i;
      continue;
    }
    ++i;
    if (i >= f.size()) {
      out += "%!(NOVERB)";
      break;
    }
    Spec sp;
    for (; i < f.size(); ++i) {
      char fl = f[i];
      if (fl == '-') {
        sp.minus = true;
        sp.zero = false;
      } else if (fl == '+') {
        sp.plus = true;
      } else if (fl == '0') {
        sp.zero = !sp.minus;
      } else if (fl == ' ') {
        sp.space = true;
      } else if (fl == '#') {
        sp.sharp = true;
      } else {
        break;
      }
    }
    auto readNum = [&](int* dst) {
      if (i < f.size() && f[i] == '*') {
        ++i;
        if (argi < args.size() && args[argi].type() == ValueType::kNumber &&
            args[argi].numberKind() != NumberKind::kFloat) {
          int64_t n = args[argi].asInt();
          *dst = static_cast<int>(std::clamp<int64_t>(n, -1000000, 1000000));
          if (*dst < 0 && dst == &sp.width) {
            sp.minus = true;
            *dst = -*dst;
          }
        } else {
          out += "%!(BADWIDTH)";
        }
        ++argi;
        return;
      }
      int n = 0;
      bool any = false;
      while (i < f.size() && f[i] >= '0' && f[i] <= '9') {
        if (n < 1000000) n = n * 10 + (f[i] - '0');
        ++i;
        any = true;
      }
      if (any) *dst = n;
    };
    readNum(&sp.width);
    if (i < f.size() && f[i] == '.') {
      ++i;
      sp.prec = 0;
      readNum(&sp.prec);
      if (sp.prec < 0) sp.prec = -1;
    }
    if (i >= f.size()) {
      out += "%!(NOVERB)";
      break;
    }
    int w;
    bool ok;
    char32_t verb32 = decodeRune(f, i, &w, &ok);
    i += w;
    if (verb32 == '%') {
      out.push_back('%');
      continue;
    }
    char verb = verb32 < 0x80 ? static_cast<char>(verb32) : '?';
    if (argi >= args.size()) {
      out += strCat("%!", std::string(1, verb), "(MISSING)");
      continue;
    }
    const Value& a = args[argi++];
    std::string_view known = "vsdqfFeEgGxXobct";
    if (known.find(verb) == std::string_view::npos) {
      out += badVerb(a, verb);
      continue;
    }
    out += formatValue(a, verb, sp);
  }
  if (argi < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = argi; k < args.size(); ++k) {
      if (k > argi) out += ", ";
      if (args[k].isNull()) {
        out += "<nil>";
      } else {
        out += strCat(goTypeName(args[k]), "=", formatValue(args[k], 'v', Spec{}));
      }
    }
    out += ")";
  }
  return Value::string(std::move(out));
}

// ---- string functions ----

Result join(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 2));
  if (args[0].type() != ValueType::kArray) {
    return argError(strCat("expected array, got ", typeName(args[0].type())));
  }
  std::vector<std::string> parts;
  for (const Value& e : args[0].asArray()) {
    TG_ASSIGN_OR_RETURN(s, stringArg(e));
    parts.push_back(std::move(s));
  }
  TG_ASSIGN_OR_RETURN(sep, stringArg(args[1]));
  return Value::string(absl::StrJoin(parts, sep));
}

Result split(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 2));
  TG_ASSIGN_OR_RETURN(s, stringArg(args[0]));
  TG_ASSIGN_OR_RETURN(sep, stringArg(args[1]));
  Array out;
  for (std::string& p : goSplit(s, sep)) out.push_back(Value::string(std::move(p)));
  return Value::array(std::move(out));
}

Result replace(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 3));
  TG_ASSIGN_OR_RETURN(s, stringArg(args[0]));
  TG_ASSIGN_OR_RETURN(from, stringArg(args[1]));
  TG_ASSIGN_OR_RETURN(to, stringArg(args[2]));
  return Value::string(goReplaceAll(s, from, to));
}

Result toLower(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 1));
  TG_ASSIGN_OR_RETURN(s, stringArg(args[0]));
  return Value::string(mapRunes(s, toLowerRune));
}

Result toUpper(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 1));
  TG_ASSIGN_OR_RETURN(s, stringArg(args[0]));
  return Value::string(mapRunes(s, toUpperRune));
}

Result trim(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 2));
  TG_ASSIGN_OR_RETURN(s, stringArg(args[0]));
  TG_ASSIGN_OR_RETURN(cutset, stringArg(args[1]));
  return Value::string(goTrim(s, cutset));
}

Result trimPrefix(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 2));
  TG_ASSIGN_OR_RETURN(s, stringArg(args[0]));
  TG_ASSIGN_OR_RETURN(p, stringArg(args[1]));
  if (s.size() >= p.size() && s.compare(0, p.size(), p) == 0) s.erase(0, p.size());
  return Value::string(std::move(s));
}

Result trimSuffix(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 2));
  TG_ASSIGN_OR_RETURN(s, stringArg(args[0]));
  TG_ASSIGN_OR_RETURN(p, stringArg(args[1]));
  if (s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0) {
    s.resize(s.size() - p.size());
  }
  return Value::string(std::move(s));
}

Result trimSpace(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 1));
  TG_ASSIGN_OR_RETURN(s, stringArg(args[0]));
  return Value::string(goTrimSpace(s));
}

// ---- other functions ----

Result envFn(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 1));
  TG_ASSIGN_OR_RETURN(name, stringArg(args[0]));
  const char* v = name.find('\0') == std::string::npos ? std::getenv(name.c_str()) : nullptr;
  return Value::string(v ? v : "");
}

Result nonsensitive(Args args) {
  TG_RETURN_IF_ERROR(checkCount(args, 1));
  const Value& a = args[0];
  if (a.type() == ValueType::kString) return Value::string(a.asString());
  if (a.type() == ValueType::kNumber) return Value::string(numberString(a));
  return argError(strCat("expected secret, got ", typeName(a.type())));
}

Result concat(Args args) {
  Array out;
  for (const Value& a : args) {
    if (a.type() != ValueType::kArray) {
      return argError(strCat("expected array, got ", typeName(a.type())));
    }
  }
  if (args.size() == 1) return args[0];
  for (const Value& a : args) {
    const Array& items = a.asArray();
    out.insert(out.end(), items.begin(), items.end());
  }
  return Value::array(std::move(out));
}

bool isEmptyForCoalesce(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return true;
    case ValueType::kNumber:
      switch (v.numberKind()) {
        case NumberKind::kInt:
          return v.asInt() == 0;
        case NumberKind::kUint:
          return v.asUint() == 0;
        case NumberKind::kFloat:
          return v.asFloat() == 0 && !std::signbit(v.asFloat());
      }
      return false;
    case ValueType::kString:
      return v.asString().empty();
    case ValueType::kBool:
      return !v.asBool();
    case ValueType::kArray:
      return v.asArray().empty();
    case ValueType::kObject:
      return v.asObject().empty();
    case ValueType::kFunction:
    case ValueType::kCapsule:
      return false;
  }
  return false;
}

Result coalesce(Args args) {
  if (args.empty()) return Value();
  for (const Value& a : args) {
    if (!isEmptyForCoalesce(a)) return a;
  }
  return args.back();
}

Result pathJoin(Args args) {
  std::vector<std::string> parts;
  for (const Value& a : args) {
    TG_ASSIGN_OR_RETURN(s, stringArg(a));
    if (!s.empty()) parts.push_back(std::move(s));
  }
  if (parts.empty()) return Value::string("");
  return Value::string(cleanPath(absl::StrJoin(parts, "/")));
}

// ---- table ----

Value fn(std::string name, std::function<Result(Args)> call, std::string deprecation = "") {
  auto f = std::make_shared<Function>();
  f->name = std::move(name);
  f->deprecation = std::move(deprecation);
  f->call = std::move(call);
  return Value::function(std::move(f));
}

std::string hostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return std::string(buf);
}

std::string goArch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "386";
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__)
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv)
  return "riscv64";
#else
  return "unknown";
#endif
}

Object buildStdlib() {
  Object lib;
  lib["constants"] = Value::object(Object{
      {"hostname", Value::string(hostName())},
      {"os", Value::string("linux")},
      {"arch", Value::string(goArch())},
      {"version", Value::string(strCat("v", telegate::kVersion))},
  });
  lib["coalesce"] = fn("coalesce", coalesce);
  lib["sys"] = Value::object(Object{{"env", fn("sys.env", envFn)}});
  lib["convert"] =
      Value::object(Object{{"nonsensitive", fn("convert.nonsensitive", nonsensitive)}});
  lib["array"] = Value::object(Object{{"concat", fn("array.concat", concat)}});
  lib["encoding"] = Value::object(Object{
      {"from_json", fn("encoding.from_json", jsonDecode)},
      {"to_json", fn("encoding.to_json", jsonEncode)},
      {"from_base64", fn("encoding.from_base64", base64Decode)},
      {"to_base64", fn("encoding.to_base64", base64Encode)},
      {"url_encode", fn("encoding.url_encode", urlEncode)},
      {"url_decode", fn("encoding.url_decode", urlDecode)},
  });
  lib["string"] = Value::object(Object{
      {"format", fn("string.format", sprintf)},
      {"join", fn("string.join", join)},
      {"split", fn("string.split", split)},
      {"replace", fn("string.replace", replace)},
      {"to_lower", fn("string.to_lower", toLower)},
      {"to_upper", fn("string.to_upper", toUpper)},
      {"trim", fn("string.trim", trim)},
      {"trim_prefix", fn("string.trim_prefix", trimPrefix)},
      {"trim_suffix", fn("string.trim_suffix", trimSuffix)},
      {"trim_space", fn("string.trim_space", trimSpace)},
  });
  lib["file"] = Value::object(Object{{"path_join", fn("file.path_join", pathJoin)}});

  // Deprecated top-level aliases.
  lib["env"] = fn("env", envFn, kDeprecation);
  lib["nonsensitive"] = fn("nonsensitive", nonsensitive, kDeprecation);
  lib["concat"] = fn("concat", concat, kDeprecation);
  lib["json_decode"] = fn("json_decode", jsonDecode, kDeprecation);
  lib["base64_decode"] = fn("base64_decode", base64Decode, kDeprecation);
  lib["format"] = fn("format", sprintf, kDeprecation);
  lib["join"] = fn("join", join, kDeprecation);
  lib["replace"] = fn("replace", replace, kDeprecation);
  lib["split"] = fn("split", split, kDeprecation);
  lib["to_lower"] = fn("to_lower", toLower, kDeprecation);
  lib["to_upper"] = fn("to_upper", toUpper, kDeprecation);
  lib["trim"] = fn("trim", trim, kDeprecation);
  lib["trim_prefix"] = fn("trim_prefix", trimPrefix, kDeprecation);
  lib["trim_suffix"] = fn("trim_suffix", trimSuffix, kDeprecation);
  lib["trim_space"] = fn("trim_space", trimSpace, kDeprecation);
  return lib;
}

}  // namespace

const Object& stdlib() {
  static const Object* lib = new Object(buildStdlib());
  return *lib;
}

}  // namespace telegate::syntax
