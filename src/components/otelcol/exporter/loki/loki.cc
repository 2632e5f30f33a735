// otelcol.exporter.loki: OTLP logs -> Loki entries (see loki.h for the contract).
#include "src/components/otelcol/exporter/loki/loki.h"

#include <google/protobuf/arena.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <utility>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/fanout.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_loki {
namespace {

namespace otlp_common = ::opentelemetry::proto::common::v1;
namespace otlp_logs = ::opentelemetry::proto::logs::v1;
using AnyValue = otlp_common::AnyValue;
using ExportLogsServiceRequest =
    ::opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;

constexpr std::string_view kHintAttributes = "loki.attribute.labels";
constexpr std::string_view kHintResources = "loki.resource.labels";
constexpr std::string_view kHintTenant = "loki.tenant";
constexpr std::string_view kHintFormat = "loki.format";
constexpr std::string_view kLevel = "level";

// An ordered attribute map (pcommon.Map): keys keep their wire order; Get returns the first.
using AttrList = std::vector<std::pair<std::string_view, const AnyValue*>>;

AttrList toAttrList(const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& kvs) {
  AttrList out;
  out.reserve(kvs.size() + 2);
  for (const auto& kv : kvs) out.emplace_back(kv.key(), &kv.value());
  return out;
}

const AnyValue* getAttr(const AttrList& attrs, std::string_view key) {
  for (const auto& [k, v] : attrs) {
    if (k == key) return v;
  }
  return nullptr;
}

void putAttr(AttrList& attrs, std::string_view key, const AnyValue* v) {
  for (auto& [k, old] : attrs) {
    if (k == key) {
      old = v;
      return;
    }
  }
  attrs.emplace_back(key, v);
}

// ---- UTF-8 -----------------------------------------------------------------------------------

constexpr uint32_t kRuneError = 0xFFFD;

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

// ---- Go number formatting --------------------------------------------------------------------

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

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string hexId(const std::string& id, size_t want) {
  if (id.size() != want) return "";
  if (std::all_of(id.begin(), id.end(), [](char c) { return c == 0; })) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(want * 2);
  for (char c : id) {
    out += kHex[static_cast<unsigned char>(c) >> 4];
    out += kHex[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

// ---- JSON (Go encoding/json of pcommon AsRaw values) ------------------------------------------

bool appendJsonValue(std::string* out, const AnyValue& v);

bool appendJsonMap(std::string* out,
                   const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& kvs) {
  std::map<std::string_view, const AnyValue*> sorted;  // later duplicates win, like AsRaw
  for (const auto& kv : kvs) sorted[kv.key()] = &kv.value();
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : sorted) {
    if (!first) out->push_back(',');
    first = false;
    appendJsonString(out, k);
    out->push_back(':');
    if (!appendJsonValue(out, *v)) return false;
  }
  out->push_back('}');
  return true;
}

bool appendJsonAttrList(std::string* out, const AttrList& attrs) {
  std::map<std::string_view, const AnyValue*> sorted;
  for (const auto& [k, v] : attrs) sorted[k] = v;
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : sorted) {
    if (!first) out->push_back(',');
    first = false;
    appendJsonString(out, k);
    out->push_back(':');
    if (!appendJsonValue(out, *v)) return false;
  }
  out->push_back('}');
  return true;
}

bool appendJsonValue(std::string* out, const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      appendJsonString(out, v.string_value());
      return true;
    case AnyValue::kBoolValue:
      out->append(v.bool_value() ? "true" : "false");
      return true;
    case AnyValue::kIntValue:
      out->append(std::to_string(v.int_value()));
      return true;
    case AnyValue::kDoubleValue:
      return appendJsonFloat(out, v.double_value());
    case AnyValue::kBytesValue:
      appendJsonString(out, base64(v.bytes_value()));
      return true;
    case AnyValue::kArrayValue: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : v.array_value().values()) {
        if (!first) out->push_back(',');
        first = false;
        if (!appendJsonValue(out, item)) return false;
      }
      out->push_back(']');
      return true;
    }
    case AnyValue::kKvlistValue:
      return appendJsonMap(out, v.kvlist_value().values());
    default:
      out->append("null");
      return true;
  }
}

// pcommon.Value.AsString().
std::string asString(const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      return v.string_value();
    case AnyValue::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case AnyValue::kIntValue:
      return std::to_string(v.int_value());
    case AnyValue::kDoubleValue:
      return formatFloatF(v.double_value());
    case AnyValue::kBytesValue:
      return base64(v.bytes_value());
    case AnyValue::kArrayValue:
    case AnyValue::kKvlistValue: {
      std::string out;
      if (!appendJsonValue(&out, v)) return "";
      return out;
    }
    default:
      return "";
  }
}

// ---- Labels ----------------------------------------------------------------------------------

std::string_view trimSpace(std::string_view s) {
  auto sp = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!s.empty() && sp(s.front())) s.remove_prefix(1);
  while (!s.empty() && sp(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string> parseAttributeNames(const AnyValue& v) {
  std::vector<std::string> out;
  if (v.value_case() == AnyValue::kStringValue) {
    std::string_view s = v.string_value();
    size_t start = 0;
    while (true) {
      size_t comma = s.find(',', start);
      out.emplace_back(s.substr(start, comma == std::string_view::npos ? s.npos : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  } else if (v.value_case() == AnyValue::kArrayValue) {
    for (const auto& item : v.array_value().values()) {
      // fmt.Sprintf("%v", raw): strings as is, numbers and bools in Go's default format.
      if (item.value_case() == AnyValue::kDoubleValue) {
        out.push_back(formatFloatV(item.double_value()));
      } else {
        out.push_back(asString(item));
      }
    }
  } else {
    out.push_back(asString(v));
  }
  return out;
}

// getAttribute: the exact key, else the longest dotted prefix naming a map that holds the rest.
const AnyValue* getAttributeNested(std::string_view attr, const AttrList& attrs) {
  if (const AnyValue* v = getAttr(attrs, attr)) return v;
  std::vector<size_t> dots;
  for (size_t i = 0; i < attr.size(); ++i) {
    if (attr[i] == '.') dots.push_back(i);
  }
  for (auto it = dots.rbegin(); it != dots.rend(); ++it) {
    std::string_view left = attr.substr(0, *it);
    std::string_view right = attr.substr(*it + 1);
    const AnyValue* lv = getAttributeNested(left, attrs);
    if (lv != nullptr && lv->value_case() == AnyValue::kKvlistValue) {
      AttrList inner = toAttrList(lv->kvlist_value().values());
      if (const AnyValue* rv = getAttributeNested(right, inner)) return rv;
    }
  }
  return nullptr;
}

using RawLabels = std::map<std::string, std::string>;  // model.LabelSet before normalisation

void mergeLabelsFrom(const AttrList& attrs, const AnyValue& selector, RawLabels* out) {
  for (const auto& name : parseAttributeNames(selector)) {
    std::string_view attr = trimSpace(name);
    if (const AnyValue* v = getAttributeNested(attr, attrs)) {
      (*out)[std::string(attr)] = asString(*v);
    }
  }
}

bool isAsciiLetterOrDigit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void removeAttributes(AttrList& attrs, const RawLabels& labels) {
  std::erase_if(attrs, [&](const auto& kv) {
    std::string_view k = kv.first;
    if (k == kHintAttributes || k == kHintResources || k == kHintTenant || k == kHintFormat) {
      return true;
    }
    return labels.count(std::string(k)) > 0;
  });
}

const char* severityLevel(int n) {
  static constexpr const char* kNames[] = {
      "TRACE", "TRACE2", "TRACE3", "TRACE4", "DEBUG", "DEBUG2", "DEBUG3", "DEBUG4",
      "INFO",  "INFO2",  "INFO3",  "INFO4",  "WARN",  "WARN2",  "WARN3",  "WARN4",
      "ERROR", "ERROR2", "ERROR3", "ERROR4", "FATAL", "FATAL2", "FATAL3", "FATAL4"};
  if (n < 1 || n > 24) return "";
  return kNames[n - 1];
}

// ---- logfmt (go-logfmt) ----------------------------------------------------------------------

struct KeyVal {
  std::string key;
  std::string value;
  bool is_bytes = false;  // []byte value: no "null" special case
  bool is_nil = false;    // nil key ([]byte) -> encoding error
};

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

bool encodeLogfmt(const std::vector<KeyVal>& kvs, std::string* out, std::string* err) {
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
        // Append r as UTF-8.
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
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

// go-logfmt Decoder over the first line of `text`: ScanRecord + ScanKeyval. False on a syntax
// error (the caller then uses msg=<body>).
bool parseLogfmtLine(std::string_view text, std::vector<KeyVal>* out) {
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
    KeyVal kv;
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

void valueToKeyvals(const std::string& key, const AnyValue& v, std::vector<KeyVal>* out) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      out->push_back({key, v.string_value()});
      return;
    case AnyValue::kBoolValue:
      out->push_back({key, v.bool_value() ? "true" : "false"});
      return;
    case AnyValue::kIntValue:
      out->push_back({key, std::to_string(v.int_value())});
      return;
    case AnyValue::kDoubleValue:
      out->push_back({key, formatFloatV(v.double_value()), true});
      return;
    case AnyValue::kKvlistValue: {
      std::string prefix = key.empty() ? "" : key + "_";
      for (const auto& kv : v.kvlist_value().values()) {
        valueToKeyvals(prefix + kv.key(), kv.value(), out);
      }
      return;
    }
    case AnyValue::kArrayValue: {
      std::string prefix = key.empty() ? "" : key + "_";
      int i = 0;
      for (const auto& item : v.array_value().values()) {
        valueToKeyvals(prefix + std::to_string(i++), item, out);
      }
      return;
    }
    case AnyValue::kBytesValue:
      out->push_back({key, v.bytes_value(), true});
      return;
    default:
      return;  // empty value: nothing
  }
}

bool encodeLogfmtLine(const otlp_logs::LogRecord& lr, const AttrList& attrs, const AttrList& res,
                      const otlp_common::InstrumentationScope& scope, std::string* line,
                      std::string* err) {
  std::vector<KeyVal> kvs;
  const AnyValue& body = lr.body();
  switch (body.value_case()) {
    case AnyValue::VALUE_NOT_SET:
      break;
    case AnyValue::kStringValue:
      if (!parseLogfmtLine(body.string_value(), &kvs)) {
        kvs.clear();
        kvs.push_back({"msg", body.string_value()});
      }
      break;
    case AnyValue::kKvlistValue:
      valueToKeyvals("", body, &kvs);
      break;
    case AnyValue::kArrayValue:
      valueToKeyvals("body", body, &kvs);
      break;
    default:
      valueToKeyvals("msg", body, &kvs);
      break;
  }
  std::string trace = hexId(lr.trace_id(), 16);
  if (!trace.empty()) kvs.push_back({"traceID", trace});
  std::string span = hexId(lr.span_id(), 8);
  if (!span.empty()) kvs.push_back({"spanID", span});
  if (!lr.severity_text().empty()) kvs.push_back({"severity", lr.severity_text()});
  if (lr.flags() != 0) kvs.push_back({"flags", std::to_string(lr.flags())});
  for (const auto& [k, v] : attrs) valueToKeyvals(strCat("attribute_", k), *v, &kvs);
  for (const auto& [k, v] : res) valueToKeyvals(strCat("resource_", k), *v, &kvs);
  if (!scope.name().empty()) {
    kvs.push_back({"instrumentation_scope_name", scope.name()});
    if (!scope.version().empty()) kvs.push_back({"instrumentation_scope_version", scope.version()});
  }
  return encodeLogfmt(kvs, line, err);
}

bool encodeJsonLine(const otlp_logs::LogRecord& lr, const AttrList& attrs, const AttrList& res,
                    const otlp_common::InstrumentationScope& scope, std::string* out) {
  out->push_back('{');
  bool first = true;
  auto field = [&](std::string_view name) {
    if (!first) out->push_back(',');
    first = false;
    out->push_back('"');
    out->append(name);
    out->append("\":");
  };
  if (lr.body().value_case() != AnyValue::VALUE_NOT_SET) {
    field("body");
    if (!appendJsonValue(out, lr.body())) return false;
  }
  std::string trace = hexId(lr.trace_id(), 16);
  if (!trace.empty()) {
    field("traceid");
    appendJsonString(out, trace);
  }
  std::string span = hexId(lr.span_id(), 8);
  if (!span.empty()) {
    field("spanid");
    appendJsonString(out, span);
  }
  if (!lr.severity_text().empty()) {
    field("severity");
    appendJsonString(out, lr.severity_text());
  }
  if (lr.flags() != 0) {
    field("flags");
    out->append(std::to_string(lr.flags()));
  }
  if (!attrs.empty()) {
    field("attributes");
    if (!appendJsonAttrList(out, attrs)) return false;
  }
  if (!res.empty()) {
    field("resources");
    if (!appendJsonAttrList(out, res)) return false;
  }
  if (!scope.name().empty()) {
    field("instrumentation_scope");
    out->append("{\"name\":");
    appendJsonString(out, scope.name());
    if (!scope.version().empty()) {
      out->append(",\"version\":");
      appendJsonString(out, scope.version());
    }
    out->push_back('}');
  }
  out->push_back('}');
  return true;
}

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// LogToLokiEntry for one record. False (with `err`) when the record cannot be converted.
bool convertRecord(google::protobuf::Arena* arena, const otlp_logs::LogRecord& lr,
                   const ::opentelemetry::proto::resource::v1::Resource& resource,
                   const otlp_common::InstrumentationScope& scope, const ConvertOptions& opts,
                   int64_t now, loki::Entry* entry, std::string* err) {
  AttrList attrs = toAttrList(lr.attributes());
  AttrList res = toAttrList(resource.attributes());

  // addLogLevelAttributeAndHint.
  if (lr.severity_number() != 0) {
    const AnyValue* hint = getAttr(attrs, kHintAttributes);
    auto* newHint = google::protobuf::Arena::CreateMessage<AnyValue>(arena);
    if (hint != nullptr) {
      std::string cur = asString(*hint);
      if (cur.find(kLevel) == std::string::npos) {
        newHint->set_string_value(strCat(cur, ",", kLevel));
      } else {
        newHint->set_string_value(std::string(kLevel));
      }
    } else {
      newHint->set_string_value(std::string(kLevel));
    }
    putAttr(attrs, kHintAttributes, newHint);
    if (getAttr(attrs, kLevel) == nullptr) {
      auto* level = google::protobuf::Arena::CreateMessage<AnyValue>(arena);
      level->set_string_value(severityLevel(lr.severity_number()));
      putAttr(attrs, kLevel, level);
    }
  }

  std::string format = "json";
  if (const AnyValue* f = getAttr(res, kHintFormat)) {
    format = asString(*f);
  } else if (const AnyValue* f2 = getAttr(attrs, kHintFormat)) {
    format = asString(*f2);
  }

  // convertAttributesAndMerge.
  RawLabels raw;
  raw["exporter"] = "OTLP";
  const AnyValue* service_name = getAttr(res, "service.name");
  if (service_name != nullptr) {
    std::string job = asString(*service_name);
    if (const AnyValue* ns = getAttr(res, "service.namespace")) {
      job = strCat(asString(*ns), "/", job);
    }
    raw["job"] = std::move(job);
  }
  if (const AnyValue* inst = getAttr(res, "service.instance.id")) raw["instance"] = asString(*inst);
  if (const AnyValue* h = getAttr(res, kHintResources)) mergeLabelsFrom(res, *h, &raw);
  if (const AnyValue* h = getAttr(attrs, kHintResources)) mergeLabelsFrom(res, *h, &raw);
  if (const AnyValue* h = getAttr(attrs, kHintAttributes)) mergeLabelsFrom(attrs, *h, &raw);
  if (const AnyValue* h = getAttr(res, kHintTenant)) {
    mergeLabelsFrom(res, *h, &raw);
  } else if (const AnyValue* h2 = getAttr(attrs, kHintTenant)) {
    mergeLabelsFrom(attrs, *h2, &raw);
  }
  std::string service_name_value = service_name ? asString(*service_name) : "";

  removeAttributes(attrs, raw);
  removeAttributes(res, raw);

  entry->line.clear();
  if (format == "json") {
    if (!encodeJsonLine(lr, attrs, res, scope, &entry->line)) {
      *err = "json: unsupported value (NaN or Inf)";
      return false;
    }
  } else if (format == "logfmt") {
    if (!encodeLogfmtLine(lr, attrs, res, scope, &entry->line, err)) return false;
  } else if (format == "raw") {
    entry->line = asString(lr.body());
  } else {
    *err = strCat("invalid format ", format, ". Expected one of: json, logfmt, raw");
    return false;
  }

  if (lr.time_unix_nano() != 0) {
    entry->timestamp_ns = static_cast<int64_t>(lr.time_unix_nano());
  } else if (lr.observed_time_unix_nano() != 0) {
    entry->timestamp_ns = static_cast<int64_t>(lr.observed_time_unix_nano());
  } else {
    entry->timestamp_ns = now;
  }

  std::map<std::string, std::string> labels;
  for (auto& [k, v] : raw) labels[normalizeLabelName(k)] = std::move(v);
  if (opts.service_name_label && service_name != nullptr) {
    labels.emplace("service_name", std::move(service_name_value));
  }
  if (!opts.tenant.empty()) labels["__tenant_id__"] = opts.tenant;
  entry->labels.assign(std::make_move_iterator(labels.begin()),
                       std::make_move_iterator(labels.end()));
  return true;
}

}  // namespace

void appendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      auto plain = [](unsigned char c) {
        return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
      };
      if (plain(b)) {
        // Copy the whole run of characters that need no escaping at once.
        size_t j = i + 1;
        while (j < s.size() && plain(static_cast<unsigned char>(s[j]))) ++j;
        out->append(s.data() + i, j - i);
        i = j;
        continue;
      } else {
        switch (b) {
          case '"':
            out->append("\\\"");
            break;
          case '\\':
            out->append("\\\\");
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
          default:
            out->append("\\u00");
            out->push_back(kHex[b >> 4]);
            out->push_back(kHex[b & 15]);
        }
      }
      ++i;
      continue;
    }
    auto [r, n] = decodeRune(s, i);
    if (r == kRuneError && n == 1) {
      out->append("\\ufffd");
    } else if (r == 0x2028 || r == 0x2029) {
      out->append(r == 0x2028 ? "\\u2028" : "\\u2029");
    } else {
      out->append(s.substr(i, n));
    }
    i += n;
  }
  out->push_back('"');
}

std::string normalizeLabelName(std::string_view name) {
  if (name.empty()) return std::string();
  std::string out;
  out.reserve(name.size() + 4);
  for (size_t i = 0; i < name.size();) {
    auto [r, n] = decodeRune(name, i);
    // unicode.IsLetter/IsDigit: ASCII only here (Loki rejects other label names anyway).
    out.push_back(r < 0x80 && isAsciiLetterOrDigit(static_cast<char>(r)) ? static_cast<char>(r)
                                                                         : '_');
    i += n;
  }
  if (out[0] >= '0' && out[0] <= '9') return "key_" + out;
  if (out[0] == '_' && !(out.size() > 1 && out[1] == '_')) return "key" + out;
  return out;
}

absl::StatusOr<ConvertResult> convertLogs(std::string_view payload, const ConvertOptions& opts) {
  google::protobuf::Arena arena;
  auto* req = google::protobuf::Arena::CreateMessage<ExportLogsServiceRequest>(&arena);
  if (!req->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::InvalidArgumentError("otelcol.exporter.loki: malformed ExportLogsServiceRequest");
  }
  ConvertResult result;
  int64_t now = opts.now_ns != 0 ? opts.now_ns : nowNs();
  for (const auto& rl : req->resource_logs()) {
    for (const auto& sl : rl.scope_logs()) {
      for (const auto& lr : sl.log_records()) {
        loki::Entry e;
        std::string err;
        if (convertRecord(&arena, lr, rl.resource(), sl.scope(), opts, now, &e, &err)) {
          result.entries.push_back(std::move(e));
        } else {
          if (result.dropped == 0) result.first_error = std::move(err);
          ++result.dropped;
        }
      }
    }
  }
  return result;
}

// ---- Consumer --------------------------------------------------------------------------------

LokiConsumer::LokiConsumer(std::string id, metrics::Registry& metrics, const log::Logger& logger)
    : id_(std::move(id)), logger_(logger), config_(std::make_shared<Config>()) {
  converted_ = &metrics
                    .counter("telegate_otelcol_exporter_loki_entries_total",
                             "Log records converted to Loki entries.", {"component_id"})
                    .with({id_});
  auto& dropped =
      metrics.counter("telegate_otelcol_exporter_loki_dropped_records_total",
                      "Log records not forwarded, by reason.", {"component_id", "reason"});
  dropped_convert_ = &dropped.with({id_, "conversion_failed"});
  malformed_ = &dropped.with({id_, "malformed_payload"});
  refused_ = &metrics
                  .counter("telegate_otelcol_exporter_loki_refused_entries_total",
                           "Entries refused by a forward_to receiver (returned to the sender "
                           "for retry).",
                           {"component_id"})
                  .with({id_});
}

void LokiConsumer::configure(const Arguments& args) {
  auto cfg = std::make_shared<Config>();
  for (const auto& r : args.forward_to) {
    if (r.ptr) cfg->receivers.push_back(r.ptr);
  }
  cfg->service_name_label = args.service_name_label;
  std::lock_guard<std::mutex> lock(mu_);
  config_ = std::move(cfg);
}

std::shared_ptr<const LokiConsumer::Config> LokiConsumer::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

absl::Status LokiConsumer::consume(pdata::Batch&& batch) {
  if (batch.signal != pdata::Signal::kLogs) {
    return absl::UnimplementedError(strCat(id_, " accepts logs only"));
  }
  auto cfg = config();
  ConvertOptions opts;
  opts.service_name_label = cfg->service_name_label;
  if (batch.client) opts.tenant = batch.client->tenant;
  auto converted = convertLogs(batch.payload, opts);
  if (!converted.ok()) {
    malformed_->inc(static_cast<double>(batch.items));
    return converted.status();
  }
  if (converted->dropped > 0) {
    dropped_convert_->inc(static_cast<double>(converted->dropped));
    if (convert_log_.shouldLog()) {
      logger_.error(
          "failed to convert log to loki entry",
          {{"err", converted->first_error}, {"dropped", std::to_string(converted->dropped)}});
    }
  }
  std::vector<loki::Entry>& entries = converted->entries;
  if (entries.empty()) return absl::OkStatus();
  const size_t n = entries.size();
  size_t refused_by = 0;
  absl::Status st = components::fanOut(
      cfg->receivers, std::move(entries),
      [](const auto& r, std::vector<loki::Entry>&& items) { return r->push(std::move(items)); },
      &refused_by);
  if (!st.ok()) {
    refused_->inc(static_cast<double>(n));
    if (refuse_log_.shouldLog()) {
      logger_.warn("a forward_to receiver refused entries; returning the error to the sender",
                   {{"receiver", cfg->receivers[refused_by]->describe()},
                    {"err", std::string(st.message())}});
    }
    return st;
  }
  converted_->inc(static_cast<double>(n));
  return absl::OkStatus();
}

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host),
      consumer_(std::make_shared<LokiConsumer>(host.id(), host.metrics(), host.logger())) {
  consumer_->configure(args);
  host_.setExports({{"input", syntax::Value::capsule(consumer_)}});
}

absl::Status Component::start() {
  host_.setHealth(runtime::HealthState::kHealthy, "");
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  consumer_->configure(args);
  return absl::OkStatus();
}

}  // namespace telegate::otelcol::exporter_loki

namespace telegate::components {
void registerOtelcolExporterLoki() {
  runtime::registerComponent<otelcol::exporter_loki::Component>(
      "otelcol.exporter.loki", "Converts OTLP logs to Loki entries.",
      {{"input", "capsule(otelcol.Consumer)", "where to send logs to be converted"}});
}
}  // namespace telegate::components
