// otelcol.exporter.loki: OTLP logs -> Loki entries (see loki.h for the contract).
#include "src/components/otelcol/exporter/loki/loki.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <unordered_map>
#include <utility>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/fanout.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_loki {
namespace {

using ExportLogsServiceRequest =
    ::opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;

constexpr std::string_view kHintAttributes = "loki.attribute.labels";
constexpr std::string_view kHintResources = "loki.resource.labels";
constexpr std::string_view kHintTenant = "loki.tenant";
constexpr std::string_view kHintFormat = "loki.format";
constexpr std::string_view kLevel = "level";

// ---- Wire reading ----------------------------------------------------------------------------
//
// The request is read straight from its protobuf wire bytes: strings are views into the payload,
// arrays and key/value lists are kept as the bytes of their message and decoded when visited.
// The reader accepts only what it fully understands and checks (well-formed tags, lengths and
// varints, valid UTF-8 in string fields, no group wire types, no repeated occurrence of a
// singular message field, which protobuf would merge); anything else makes it give up, and
// convertLogsInto() lets protobuf decide and re-reads protobuf's own encoding of the request.

// An OTLP AnyValue. Numbers are by value; strings, bytes and the wire bytes of array_value
// (an ArrayValue) and kvlist_value (a KeyValueList) are views into the payload.
struct AnyValue {
  enum Case : uint8_t {
    VALUE_NOT_SET = 0,
    kStringValue = 1,
    kBoolValue = 2,
    kIntValue = 3,
    kDoubleValue = 4,
    kArrayValue = 5,
    kKvlistValue = 6,
    kBytesValue = 7,
    kStringValueStrindex = 8,
  };
  Case kind = VALUE_NOT_SET;
  int64_t i = 0;  // bool, int, string_value_strindex
  double d = 0;
  std::string_view s;  // string, bytes, array or kvlist bytes

  static AnyValue string(std::string_view v) {
    AnyValue a;
    a.kind = kStringValue;
    a.s = v;
    return a;
  }
  Case value_case() const { return kind; }
  std::string_view string_value() const { return s; }
  bool bool_value() const { return i != 0; }
  int64_t int_value() const { return i; }
  double double_value() const { return d; }
  std::string_view bytes_value() const { return s; }
};

// AnyValue nesting levels. The first reading gives up beyond kMaxCheckedDepth (protobuf accepts
// at least that many wherever the value is; its recursion limit is counted in messages), the
// reading of protobuf's encoding allows more than protobuf can accept.
constexpr int kMaxCheckedDepth = 20;
constexpr int kMaxDepth = 64;

class Wire {
 public:
  explicit Wire(std::string_view b)
      : p_(reinterpret_cast<const uint8_t*>(b.data())), end_(p_ + b.size()) {}
  bool done() const { return p_ >= end_; }

  bool varint(uint64_t* out) {
    if (p_ < end_ && *p_ < 0x80) {
      *out = *p_++;
      return true;
    }
    uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
      if (p_ == end_) return false;
      uint8_t b = *p_++;
      if (i == 9 && b > 1) return false;
      v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if (b < 0x80) {
        *out = v;
        return true;
      }
    }
    return false;
  }
  bool tag(uint32_t* field, uint32_t* wire_type) {
    uint64_t v;
    const uint8_t* at = p_;
    if (!varint(&v) || p_ - at > 5 || v > 0xffffffffu || (v >> 3) == 0) return false;
    *field = static_cast<uint32_t>(v >> 3);
    *wire_type = static_cast<uint32_t>(v & 7);
    return true;
  }
  bool bytes(std::string_view* out) {
    uint64_t n;
    const uint8_t* at = p_;
    if (!varint(&n) || p_ - at > 5 || n > static_cast<uint64_t>(end_ - p_)) return false;
    *out = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  bool fixed64(uint64_t* out) {
    if (end_ - p_ < 8) return false;
    std::memcpy(out, p_, 8);  // little-endian hosts only (as the rest of telegate)
    p_ += 8;
    return true;
  }
  bool fixed32(uint32_t* out) {
    if (end_ - p_ < 4) return false;
    std::memcpy(out, p_, 4);
    p_ += 4;
    return true;
  }
  // Skips a field of an unknown number or an unexpected wire type (groups are left to protobuf).
  bool skip(uint32_t wire_type) {
    uint64_t v;
    std::string_view b;
    switch (wire_type) {
      case 0:
        return varint(&v);
      case 1:
        return fixed64(&v);
      case 2:
        return bytes(&b);
      case 5: {
        uint32_t w;
        return fixed32(&w);
      }
      default:
        return false;
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// Reads OTLP messages. `check` (the first reading of a payload): strings must be valid UTF-8
// and nested arrays / lists are checked when their AnyValue is read; without it (protobuf's
// re-encoding, or lists already checked) they are trusted.
class Reader {
 public:
  explicit Reader(bool check) : check_(check), max_depth_(check ? kMaxCheckedDepth : kMaxDepth) {}

  bool utf8(std::string_view s) const {
    if (!check_) return true;
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ULL) return simdjson::validate_utf8(s.data() + i, s.size() - i);
    }
    for (; i < s.size(); ++i) {
      if (static_cast<unsigned char>(s[i]) & 0x80)
        return simdjson::validate_utf8(s.data() + i, s.size() - i);
    }
    return true;
  }

  bool anyValue(std::string_view msg, int depth, AnyValue* out) const {
    *out = AnyValue{};
    if (depth > max_depth_) return false;
    Wire w(msg);
    while (!w.done()) {
      uint32_t f, wt;
      if (!w.tag(&f, &wt)) return false;
      uint64_t v;
      std::string_view b;
      if (wt == 2 && (f == 1 || f == 5 || f == 6 || f == 7)) {
        if (!w.bytes(&b)) return false;
        if (f == 1) {
          if (!utf8(b)) return false;
        } else if (f != 7) {
          if (out->kind == f) return false;  // protobuf merges the two messages
          if (check_ && !(f == 5 ? checkArray(b, depth + 1) : checkKvList(b, depth + 1)))
            return false;
        }
        *out = AnyValue{};
        out->kind = static_cast<AnyValue::Case>(f);
        out->s = b;
        continue;
      }
      if (wt == 0 && (f == 2 || f == 3 || f == 8)) {
        if (!w.varint(&v)) return false;
        *out = AnyValue{};
        out->kind = static_cast<AnyValue::Case>(f);
        out->i = f == 2 ? (v != 0) : f == 3 ? static_cast<int64_t>(v) : static_cast<int32_t>(v);
        continue;
      }
      if (wt == 1 && f == 4) {
        if (!w.fixed64(&v)) return false;
        *out = AnyValue{};
        out->kind = AnyValue::kDoubleValue;
        std::memcpy(&out->d, &v, 8);
        continue;
      }
      if (!w.skip(wt)) return false;
    }
    return true;
  }

  bool keyValue(std::string_view msg, int depth, std::string_view* key, AnyValue* value) const {
    *key = {};
    *value = AnyValue{};
    bool has_value = false;
    Wire w(msg);
    while (!w.done()) {
      uint32_t f, wt;
      if (!w.tag(&f, &wt)) return false;
      std::string_view b;
      if (wt == 2 && f == 1) {
        if (!w.bytes(key) || !utf8(*key)) return false;
      } else if (wt == 2 && f == 2) {
        if (has_value || !w.bytes(&b) || !anyValue(b, depth, value)) return false;
        has_value = true;
      } else if (!w.skip(wt)) {
        return false;
      }
    }
    return true;
  }

  // Calls fn(value) for every element of an ArrayValue.
  template <class Fn>
  bool forEachItem(std::string_view msg, int depth, Fn&& fn) const {
    Wire w(msg);
    while (!w.done()) {
      uint32_t f, wt;
      if (!w.tag(&f, &wt)) return false;
      if (wt == 2 && f == 1) {
        std::string_view b;
        AnyValue v;
        if (!w.bytes(&b) || !anyValue(b, depth, &v)) return false;
        fn(v);
      } else if (!w.skip(wt)) {
        return false;
      }
    }
    return true;
  }
  // Calls fn(key, value) for every KeyValue of a KeyValueList (or of any message whose field
  // `number` is a repeated KeyValue).
  template <class Fn>
  bool forEachKv(std::string_view msg, int depth, Fn&& fn, uint32_t number = 1) const {
    Wire w(msg);
    while (!w.done()) {
      uint32_t f, wt;
      if (!w.tag(&f, &wt)) return false;
      if (wt == 2 && f == number) {
        std::string_view b, k;
        AnyValue v;
        if (!w.bytes(&b) || !keyValue(b, depth, &k, &v)) return false;
        fn(k, v);
      } else if (!w.skip(wt)) {
        return false;
      }
    }
    return true;
  }

  bool checkArray(std::string_view msg, int depth) const {
    return forEachItem(msg, depth, [](const AnyValue&) {});
  }
  bool checkKvList(std::string_view msg, int depth) const {
    return forEachKv(msg, depth, [](std::string_view, const AnyValue&) {});
  }

  // A message whose known fields are all strings (repeated or not): EntityRef.
  bool stringsOnly(std::string_view msg) const {
    Wire w(msg);
    while (!w.done()) {
      uint32_t f, wt;
      if (!w.tag(&f, &wt)) return false;
      std::string_view b;
      if (wt == 2) {
        if (!w.bytes(&b) || (f <= 4 && !utf8(b))) return false;
      } else if (!w.skip(wt)) {
        return false;
      }
    }
    return true;
  }

 private:
  bool check_;
  int max_depth_;
};

// Decoding of lists already checked (conversion time).
const Reader& trusted() {
  static const Reader r(false);
  return r;
}

// An ordered attribute map (pcommon.Map): keys keep their wire order; Get returns the first.
using AttrList = std::vector<std::pair<std::string_view, AnyValue>>;

AttrList toAttrList(std::string_view kvlist) {
  AttrList out;
  trusted().forEachKv(kvlist, 0,
                      [&](std::string_view k, const AnyValue& v) { out.emplace_back(k, v); });
  return out;
}

const AnyValue* getAttr(const AttrList& attrs, std::string_view key) {
  for (const auto& [k, v] : attrs) {
    if (k == key) return &v;
  }
  return nullptr;
}

void putAttr(AttrList& attrs, std::string_view key, const AnyValue& v) {
  for (auto& [k, old] : attrs) {
    if (k == key) {
      old = v;
      return;
    }
  }
  attrs.emplace_back(key, v);
}

// The fields of an InstrumentationScope and a LogRecord the conversion uses.
struct Scope {
  std::string_view name, version;
};
struct LogRecord {
  uint64_t time_unix_nano = 0;
  uint64_t observed_time_unix_nano = 0;
  int32_t severity_number = 0;
  uint32_t flags = 0;
  std::string_view severity_text, trace_id, span_id;
  AnyValue body;
};

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

std::string hexId(std::string_view id, size_t want) {
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

bool appendJsonMap(std::string* out, std::string_view kvlist) {
  std::map<std::string_view, AnyValue> sorted;  // later duplicates win, like AsRaw
  trusted().forEachKv(kvlist, 0, [&](std::string_view k, const AnyValue& v) { sorted[k] = v; });
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : sorted) {
    if (!first) out->push_back(',');
    first = false;
    appendJsonString(out, k);
    out->push_back(':');
    if (!appendJsonValue(out, v)) return false;
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
      bool first = true, ok = true;
      trusted().forEachItem(v.s, 0, [&](const AnyValue& item) {
        if (!ok) return;
        if (!first) out->push_back(',');
        first = false;
        ok = appendJsonValue(out, item);
      });
      if (!ok) return false;
      out->push_back(']');
      return true;
    }
    case AnyValue::kKvlistValue:
      return appendJsonMap(out, v.s);
    default:
      out->append("null");
      return true;
  }
}

// pcommon.Value.AsString().
std::string asString(const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      return std::string(v.string_value());
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
    trusted().forEachItem(v.s, 0, [&](const AnyValue& item) {
      // fmt.Sprintf("%v", raw): strings as is, numbers and bools in Go's default format.
      if (item.value_case() == AnyValue::kDoubleValue) {
        out.push_back(formatFloatV(item.double_value()));
      } else {
        out.push_back(asString(item));
      }
    });
  } else {
    out.push_back(asString(v));
  }
  return out;
}

// getAttribute: the exact key, else the longest dotted prefix naming a map that holds the rest.
bool getAttributeNested(std::string_view attr, const AttrList& attrs, AnyValue* out) {
  if (const AnyValue* v = getAttr(attrs, attr)) {
    *out = *v;
    return true;
  }
  std::vector<size_t> dots;
  for (size_t i = 0; i < attr.size(); ++i) {
    if (attr[i] == '.') dots.push_back(i);
  }
  for (auto it = dots.rbegin(); it != dots.rend(); ++it) {
    std::string_view left = attr.substr(0, *it);
    std::string_view right = attr.substr(*it + 1);
    AnyValue lv;
    if (getAttributeNested(left, attrs, &lv) && lv.value_case() == AnyValue::kKvlistValue) {
      AttrList inner = toAttrList(lv.s);
      if (getAttributeNested(right, inner, out)) return true;
    }
  }
  return false;
}

bool isAsciiLetterOrDigit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
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
      out->push_back({key, std::string(v.string_value())});
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
      trusted().forEachKv(v.s, 0, [&](std::string_view k, const AnyValue& item) {
        valueToKeyvals(strCat(prefix, k), item, out);
      });
      return;
    }
    case AnyValue::kArrayValue: {
      std::string prefix = key.empty() ? "" : key + "_";
      int i = 0;
      trusted().forEachItem(v.s, 0, [&](const AnyValue& item) {
        valueToKeyvals(prefix + std::to_string(i++), item, out);
      });
      return;
    }
    case AnyValue::kBytesValue:
      out->push_back({key, std::string(v.bytes_value()), true});
      return;
    default:
      return;  // empty value: nothing
  }
}

bool encodeLogfmtLine(const LogRecord& lr, const AttrList& attrs, const AttrList& res,
                      const Scope& scope, std::string* line, std::string* err) {
  std::vector<KeyVal> kvs;
  const AnyValue& body = lr.body;
  switch (body.value_case()) {
    case AnyValue::VALUE_NOT_SET:
      break;
    case AnyValue::kStringValue:
      if (!parseLogfmtLine(body.string_value(), &kvs)) {
        kvs.clear();
        kvs.push_back({"msg", std::string(body.string_value())});
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
  std::string trace = hexId(lr.trace_id, 16);
  if (!trace.empty()) kvs.push_back({"traceID", trace});
  std::string span = hexId(lr.span_id, 8);
  if (!span.empty()) kvs.push_back({"spanID", span});
  if (!lr.severity_text.empty()) kvs.push_back({"severity", std::string(lr.severity_text)});
  if (lr.flags != 0) kvs.push_back({"flags", std::to_string(lr.flags)});
  for (const auto& [k, v] : attrs) valueToKeyvals(strCat("attribute_", k), v, &kvs);
  for (const auto& [k, v] : res) valueToKeyvals(strCat("resource_", k), v, &kvs);
  if (!scope.name.empty()) {
    kvs.push_back({"instrumentation_scope_name", std::string(scope.name)});
    if (!scope.version.empty())
      kvs.push_back({"instrumentation_scope_version", std::string(scope.version)});
  }
  return encodeLogfmt(kvs, line, err);
}

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool isHintKey(std::string_view k) {
  // Every hint key is "loki." + at least 6 bytes: most keys are rejected without a compare.
  if (k.size() < 11 || k[0] != 'l' || k[4] != '.') return false;
  return k == kHintAttributes || k == kHintResources || k == kHintTenant || k == kHintFormat;
}

// A non-empty trace/span id of the expected size that is not all zeros.
bool validId(std::string_view id, size_t want) {
  if (id.size() != want) return false;
  return std::any_of(id.begin(), id.end(), [](char c) { return c != 0; });
}

void appendHexQuoted(std::string* out, std::string_view id) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t at = out->size();
  out->resize(at + id.size() * 2 + 2);
  char* p = out->data() + at;
  *p++ = '"';
  for (char c : id) {
    *p++ = kHex[static_cast<unsigned char>(c) >> 4];
    *p++ = kHex[static_cast<unsigned char>(c) & 15];
  }
  *p = '"';
}

// Stable insertion sort by key (the lists are a handful of attributes or labels).
template <class Vec>
void sortByFirst(Vec& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    auto x = v[i];
    size_t j = i;
    while (j > 0 && x.first < v[j - 1].first) {
      v[j] = v[j - 1];
      --j;
    }
    v[j] = x;
  }
}

// JSON object of an attribute list: keys sorted, a later duplicate wins (pcommon AsRaw).
bool appendJsonSorted(std::string* out, const AttrList& attrs, AttrList* tmp) {
  tmp->assign(attrs.begin(), attrs.end());
  if (tmp->size() > 32) {
    std::stable_sort(tmp->begin(), tmp->end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  } else {
    sortByFirst(*tmp);
  }
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < tmp->size(); ++i) {
    if (i + 1 < tmp->size() && (*tmp)[i + 1].first == (*tmp)[i].first) continue;
    if (!first) out->push_back(',');
    first = false;
    appendJsonString(out, (*tmp)[i].first);
    out->push_back(':');
    if (!appendJsonValue(out, (*tmp)[i].second)) return false;
  }
  out->push_back('}');
  return true;
}

// The AnyValues the converter adds to records: the "level" hint and the severity names.
struct StaticValues {
  AnyValue level_hint;
  AnyValue severity[25];
  StaticValues() {
    level_hint = AnyValue::string(kLevel);
    for (int i = 0; i < 25; ++i) severity[i] = AnyValue::string(severityLevel(i));
  }
};
const StaticValues& staticValues() {
  static const StaticValues v;
  return v;
}

// A label name that normalizeLabelName() leaves unchanged.
bool isNormalLabelName(std::string_view n) {
  if (n.empty()) return true;
  for (char c : n) {
    if (!(isAsciiLetterOrDigit(c) || c == '_')) return false;
  }
  if (n[0] >= '0' && n[0] <= '9') return false;
  if (n[0] == '_' && !(n.size() > 1 && n[1] == '_')) return false;
  return true;
}

using ViewPairs = std::vector<std::pair<std::string_view, std::string_view>>;

// Strings referenced by views for the duration of one record (stable addresses).
class StringPool {
 public:
  void reset() { used_ = 0; }
  std::string_view store(std::string s) {
    if (used_ == pool_.size()) pool_.emplace_back();
    std::string& slot = pool_[used_++];
    slot = std::move(s);
    return slot;
  }

 private:
  std::deque<std::string> pool_;
  size_t used_ = 0;
};

// model.LabelSet before normalisation: assigning a name again replaces its value.
void setLabel(ViewPairs* raw, std::string_view k, std::string_view v) {
  for (auto& [rk, rv] : *raw) {
    if (rk == k) {
      rv = v;
      return;
    }
  }
  raw->emplace_back(k, v);
}

std::string_view valueView(const AnyValue& v, StringPool* pool) {
  if (v.value_case() == AnyValue::kStringValue) return v.string_value();
  return pool->store(asString(v));
}

// convertAttributes: promotes the attributes named by `selector` from `attrs`.
void mergeLabels(const AttrList& attrs, const AnyValue& selector, ViewPairs* raw,
                 StringPool* pool) {
  auto one = [&](std::string_view name) {
    std::string_view attr = trimSpace(name);
    AnyValue v;
    if (getAttributeNested(attr, attrs, &v)) setLabel(raw, attr, valueView(v, pool));
  };
  if (selector.value_case() == AnyValue::kStringValue) {
    std::string_view s = selector.string_value();
    size_t start = 0;
    while (true) {
      size_t comma = s.find(',', start);
      one(s.substr(start, comma == std::string_view::npos ? s.npos : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  } else {
    for (auto& n : parseAttributeNames(selector)) one(pool->store(std::move(n)));
  }
}

bool inRaw(const ViewPairs& raw, std::string_view k) {
  for (const auto& [rk, rv] : raw) {
    if (rk == k) return true;
  }
  return false;
}

// Everything of a ResourceLogs that does not depend on the record.
struct ResourceCtx {
  AttrList res;
  const AnyValue* service_name = nullptr;
  std::string service_name_value;
  const AnyValue* format = nullptr;
  const AnyValue* hint_tenant = nullptr;
  std::string job, instance;
  ViewPairs base;   // exporter, job, instance, loki.resource.labels of the resource
  StringPool pool;  // values of `base`
  // Rendered `"resources":{...}` by the mask of removed resource attributes ("" when every
  // attribute is removed; ok=false when it cannot be encoded).
  struct Fragment {
    uint64_t mask;
    bool ok;
    std::string json;
  };
  std::vector<Fragment> fragments;
};

class Converter {
 public:
  Converter(const ConvertOptions& opts, ConvertResult* out) : opts_(opts), out_(out) {
    now_ = opts.now_ns != 0 ? opts.now_ns : nowNs();
  }

  // The attribute list of the next resource, to be filled before resource() is called.
  AttrList& resourceAttributes() { return ctx_.res; }
  // The attribute list of the next record, to be filled before record() is called.
  AttrList& recordAttributes() { return attrs_; }

  void resource() {
    ResourceCtx& c = ctx_;
    memo_used_ = memo_next_ = 0;  // the service_name label depends on the resource
    c.base.clear();
    c.pool.reset();
    c.fragments.clear();
    c.format = getAttr(c.res, kHintFormat);
    c.hint_tenant = getAttr(c.res, kHintTenant);
    c.base.emplace_back("exporter", "OTLP");
    c.service_name = getAttr(c.res, "service.name");
    c.service_name_value.clear();
    if (c.service_name != nullptr) {
      c.service_name_value = asString(*c.service_name);
      c.job = c.service_name_value;
      if (const AnyValue* ns = getAttr(c.res, "service.namespace")) {
        c.job = strCat(asString(*ns), "/", c.service_name_value);
      }
      setLabel(&c.base, "job", c.job);
    }
    if (const AnyValue* inst = getAttr(c.res, "service.instance.id")) {
      c.instance = asString(*inst);
      setLabel(&c.base, "instance", c.instance);
    }
    if (const AnyValue* h = getAttr(c.res, kHintResources))
      mergeLabels(c.res, *h, &c.base, &c.pool);
  }

  void scope(const Scope& scope) {
    scope_ = scope;
    scope_json_.clear();
    if (!scope.name.empty()) {
      scope_json_.append("\"instrumentation_scope\":{\"name\":");
      appendJsonString(&scope_json_, scope.name);
      if (!scope.version.empty()) {
        scope_json_.append(",\"version\":");
        appendJsonString(&scope_json_, scope.version);
      }
      scope_json_.push_back('}');
    }
  }

  void record(const LogRecord& lr) {
    std::string err;
    if (!convert(lr, &err)) {
      if (out_->dropped == 0) out_->first_error = std::move(err);
      ++out_->dropped;
    }
  }

 private:
  // LogToLokiEntry for one record. False (with `err`) when the record cannot be converted.
  bool convert(const LogRecord& lr, std::string* err) {
    ResourceCtx& c = ctx_;
    const StaticValues& sv = staticValues();
    pool_.reset();

    // addLogLevelAttributeAndHint.
    if (lr.severity_number != 0) {
      const AnyValue* hint = getAttr(attrs_, kHintAttributes);
      AnyValue new_hint = sv.level_hint;
      if (hint != nullptr) {
        std::string cur = asString(*hint);
        if (cur.find(kLevel) == std::string::npos) {
          new_hint = AnyValue::string(pool_.store(strCat(cur, ",", kLevel)));
        }
      }
      putAttr(attrs_, kHintAttributes, new_hint);
      if (getAttr(attrs_, kLevel) == nullptr) {
        int n = lr.severity_number;
        putAttr(attrs_, kLevel, sv.severity[n >= 1 && n <= 24 ? n : 0]);
      }
    }

    std::string_view format = "json";
    if (c.format != nullptr) {
      format = valueView(*c.format, &pool_);
    } else if (const AnyValue* f = getAttr(attrs_, kHintFormat)) {
      format = valueView(*f, &pool_);
    }

    // convertAttributesAndMerge.
    raw_.assign(c.base.begin(), c.base.end());
    if (const AnyValue* h = getAttr(attrs_, kHintResources)) mergeLabels(c.res, *h, &raw_, &pool_);
    if (const AnyValue* h = getAttr(attrs_, kHintAttributes))
      mergeLabels(attrs_, *h, &raw_, &pool_);
    if (c.hint_tenant != nullptr) {
      mergeLabels(c.res, *c.hint_tenant, &raw_, &pool_);
    } else if (const AnyValue* h = getAttr(attrs_, kHintTenant)) {
      mergeLabels(attrs_, *h, &raw_, &pool_);
    }

    // removeAttributes on the record and (as a mask) on the resource.
    std::erase_if(attrs_,
                  [&](const auto& kv) { return isHintKey(kv.first) || inRaw(raw_, kv.first); });
    uint64_t mask = 0;
    const bool cacheable = c.res.size() <= 64;
    if (cacheable) {
      for (size_t i = 0; i < c.res.size(); ++i) {
        std::string_view k = c.res[i].first;
        if (isHintKey(k) || inRaw(raw_, k)) mask |= uint64_t{1} << i;
      }
    }

    std::string& text = out_->batch.text;
    const uint64_t offset = text.size();
    if (format == "json") {
      const ResourceCtx::Fragment* frag = nullptr;
      std::string uncached;
      if (cacheable) {
        frag = fragment(mask);
      } else {
        AttrList res = c.res;
        std::erase_if(res,
                      [&](const auto& kv) { return isHintKey(kv.first) || inRaw(raw_, kv.first); });
        ResourceCtx::Fragment f{0, true, {}};
        if (!res.empty()) {
          f.json = "\"resources\":";
          f.ok = appendJsonSorted(&f.json, res, &tmp_);
        }
        uncached_ = std::move(f);
        frag = &uncached_;
      }
      if (!frag->ok || !encodeJson(lr, frag->json, &text)) {
        text.resize(offset);
        *err = "json: unsupported value (NaN or Inf)";
        return false;
      }
    } else if (format == "logfmt") {
      AttrList res = c.res;
      std::erase_if(res,
                    [&](const auto& kv) { return isHintKey(kv.first) || inRaw(raw_, kv.first); });
      std::string line;
      if (!encodeLogfmtLine(lr, attrs_, res, scope_, &line, err)) return false;
      text.append(line);
    } else if (format == "raw") {
      text.append(asString(lr.body));
    } else {
      *err = strCat("invalid format ", format, ". Expected one of: json, logfmt, raw");
      return false;
    }

    int64_t ts = now_;
    if (lr.time_unix_nano != 0) {
      ts = static_cast<int64_t>(lr.time_unix_nano);
    } else if (lr.observed_time_unix_nano != 0) {
      ts = static_cast<int64_t>(lr.observed_time_unix_nano);
    }
    out_->batch.addAppended(streamIndex(), ts, offset);
    return true;
  }

  // The batch's stream for the labels in raw_ (normalised, service_name, tenant).
  uint32_t streamIndex() {
    sortByFirst(raw_);  // model.LabelSet iteration order: by raw name
    // Records of a resource mostly repeat a few raw label sets (e.g. one per level).
    for (size_t i = 0; i < memo_used_; ++i) {
      const Memo& m = memo_[i];
      if (m.raw.size() == raw_.size() &&
          std::equal(raw_.begin(), raw_.end(), m.raw.begin(), [](const auto& a, const auto& b) {
            return a.first == b.first && a.second == b.second;
          })) {
        return m.idx;
      }
    }
    const uint32_t idx = streamIndexOf();
    Memo& m = memo_[memo_next_];
    memo_next_ = (memo_next_ + 1) % memo_.size();
    memo_used_ = std::max(memo_used_, memo_next_ == 0 ? memo_.size() : memo_next_);
    m.raw.resize(raw_.size());
    for (size_t i = 0; i < raw_.size(); ++i) {
      m.raw[i].first.assign(raw_[i].first);
      m.raw[i].second.assign(raw_[i].second);
    }
    m.idx = idx;
    return idx;
  }

  // streamIndex() without the memo (raw_ sorted).
  uint32_t streamIndexOf() {
    const ResourceCtx& c = ctx_;
    labels_.clear();
    for (const auto& [k, v] : raw_) {
      std::string_view name = isNormalLabelName(k) ? k : pool_.store(normalizeLabelName(k));
      labels_.emplace_back(name, v);
    }
    sortByFirst(labels_);
    // Equal normalised names: the later raw name wins.
    size_t w = 0;
    for (size_t i = 0; i < labels_.size(); ++i) {
      if (i + 1 < labels_.size() && labels_[i + 1].first == labels_[i].first) continue;
      labels_[w++] = labels_[i];
    }
    labels_.resize(w);
    // The tenant comes from the client's credential only: a `__tenant_id__` made from client
    // attributes (by any hint, or by normalisation such as "__tenant.id__") is dropped.
    std::erase_if(labels_, [](const auto& kv) { return kv.first == "__tenant_id__"; });
    auto upsert = [&](std::string_view k, std::string_view v, bool replace) {
      for (auto& [lk, lv] : labels_) {
        if (lk == k) {
          if (replace) lv = v;
          return;
        }
      }
      labels_.emplace_back(k, v);
      sortByFirst(labels_);
    };
    if (opts_.service_name_label && c.service_name != nullptr) {
      upsert("service_name", c.service_name_value, false);
    }
    if (!opts_.tenant.empty()) upsert("__tenant_id__", opts_.tenant, true);

    key_.clear();
    for (const auto& [k, v] : labels_) {
      key_.append(k);
      key_.push_back('\0');
      uint32_t n = static_cast<uint32_t>(v.size());
      key_.append(reinterpret_cast<const char*>(&n), sizeof(n));
      key_.append(v);
    }
    auto it = streams_.find(key_);
    if (it != streams_.end()) return it->second;
    loki::LabelSet ls;
    ls.reserve(labels_.size());
    for (const auto& [k, v] : labels_) ls.emplace_back(std::string(k), std::string(v));
    uint32_t idx = out_->batch.addStream(std::move(ls));
    streams_.emplace(key_, idx);
    return idx;
  }

  const ResourceCtx::Fragment* fragment(uint64_t mask) {
    ResourceCtx& c = ctx_;
    for (const auto& f : c.fragments) {
      if (f.mask == mask) return &f;
    }
    AttrList res;
    for (size_t i = 0; i < c.res.size(); ++i) {
      if ((mask & (uint64_t{1} << i)) == 0) res.push_back(c.res[i]);
    }
    ResourceCtx::Fragment f{mask, true, {}};
    if (!res.empty()) {
      f.json = "\"resources\":";
      f.ok = appendJsonSorted(&f.json, res, &tmp_);
    }
    c.fragments.push_back(std::move(f));
    return &c.fragments.back();
  }

  // Go encoding/json of the record: body, traceid, spanid, severity, flags, attributes,
  // resources (pre-rendered), instrumentation_scope (pre-rendered).
  bool encodeJson(const LogRecord& lr, const std::string& resources, std::string* out) {
    out->push_back('{');
    bool first = true;
    auto field = [&](std::string_view name) {
      if (!first) out->push_back(',');
      first = false;
      out->push_back('"');
      out->append(name);
      out->append("\":");
    };
    if (lr.body.value_case() != AnyValue::VALUE_NOT_SET) {
      field("body");
      if (!appendJsonValue(out, lr.body)) return false;
    }
    if (validId(lr.trace_id, 16)) {
      field("traceid");
      appendHexQuoted(out, lr.trace_id);
    }
    if (validId(lr.span_id, 8)) {
      field("spanid");
      appendHexQuoted(out, lr.span_id);
    }
    if (!lr.severity_text.empty()) {
      field("severity");
      appendJsonString(out, lr.severity_text);
    }
    if (lr.flags != 0) {
      field("flags");
      char buf[16];
      auto r = std::to_chars(buf, buf + sizeof(buf), lr.flags);
      out->append(buf, r.ptr);
    }
    if (!attrs_.empty()) {
      field("attributes");
      if (!appendJsonSorted(out, attrs_, &tmp_)) return false;
    }
    if (!resources.empty()) {
      if (!first) out->push_back(',');
      first = false;
      out->append(resources);
    }
    if (!scope_json_.empty()) {
      if (!first) out->push_back(',');
      first = false;
      out->append(scope_json_);
    }
    out->push_back('}');
    return true;
  }

  const ConvertOptions& opts_;
  ConvertResult* out_;
  int64_t now_ = 0;
  ResourceCtx ctx_;
  Scope scope_;
  std::string scope_json_;
  ResourceCtx::Fragment uncached_{0, true, {}};
  // Per-record scratch, reused.
  AttrList attrs_, tmp_;
  ViewPairs raw_, labels_;
  StringPool pool_;
  std::string key_;
  std::unordered_map<std::string, uint32_t> streams_;  // label set key -> batch stream
  // The last raw label sets of the current resource and their streams.
  struct Memo {
    std::vector<std::pair<std::string, std::string>> raw;
    uint32_t idx = 0;
  };
  std::array<Memo, 4> memo_;
  size_t memo_used_ = 0, memo_next_ = 0;
};

}  // namespace

namespace {
// Bytes encoding/json copies as they are: printable ASCII except '"', '\\', '<', '>', '&'.
constexpr auto kJsonPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c)
    t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
  return t;
}();
}  // namespace

void appendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      auto plain = [](unsigned char c) { return kJsonPlain[c]; };
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

namespace {

// Reads the ExportLogsServiceRequest in `payload` and feeds it to `conv`. False when the reader
// gives up (see "Wire reading"); what was converted until then is then to be discarded.
class RequestReader {
 public:
  RequestReader(const Reader& reader, Converter* conv) : r_(reader), conv_(conv) {}

  bool request(std::string_view payload) {
    Wire w(payload);
    while (!w.done()) {
      uint32_t f, wt;
      if (!w.tag(&f, &wt)) return false;
      std::string_view b;
      if (f == 1 && wt == 2) {
        if (!w.bytes(&b) || !resourceLogs(b)) return false;
      } else if (!w.skip(wt)) {
        return false;
      }
    }
    return true;
  }

 private:
  bool resourceLogs(std::string_view msg) {
    // Fields may come in any order: find the resource and the scope lists first.
    std::string_view resource;
    bool has_resource = false;
    scopes_.clear();
    Wire w(msg);
    while (!w.done()) {
      uint32_t f, wt;
      if (!w.tag(&f, &wt)) return false;
      std::string_view b;
      if (wt == 2 && f >= 1 && f <= 3) {
        if (!w.bytes(&b)) return false;
        if (f == 1) {
          if (has_resource) return false;  // protobuf merges the two
          has_resource = true;
          resource = b;
        } else if (f == 2) {
          scopes_.push_back(b);
        } else if (!r_.utf8(b)) {  // schema_url
          return false;
        }
      } else if (!w.skip(wt)) {
        return false;
      }
    }
    AttrList& res = conv_->resourceAttributes();
    res.clear();
    Wire rw(resource);
    while (!rw.done()) {
      uint32_t f, wt;
      if (!rw.tag(&f, &wt)) return false;
      std::string_view b, k;
      AnyValue v;
      if (wt == 2 && f == 1) {
        if (!rw.bytes(&b) || !r_.keyValue(b, 1, &k, &v)) return false;
        res.emplace_back(k, v);
      } else if (wt == 2 && f == 3) {  // entity_refs
        if (!rw.bytes(&b) || !r_.stringsOnly(b)) return false;
      } else if (!rw.skip(wt)) {
        return false;
      }
    }
    conv_->resource();
    for (std::string_view sl : scopes_) {
      if (!scopeLogs(sl)) return false;
    }
    return true;
  }

  bool scopeLogs(std::string_view msg) {
    std::string_view scope_msg;
    bool has_scope = false;
    Wire w(msg);
    while (!w.done()) {
      uint32_t f, wt;
      if (!w.tag(&f, &wt)) return false;
      std::string_view b;
      if (wt == 2 && f >= 1 && f <= 3) {
        if (!w.bytes(&b)) return false;
        if (f == 1) {
          if (has_scope) return false;  // protobuf merges the two
          has_scope = true;
          scope_msg = b;
        } else if (f == 3 && !r_.utf8(b)) {  // schema_url
          return false;
        }
      } else if (!w.skip(wt)) {
        return false;
      }
    }
    Scope scope;
    Wire sw(scope_msg);
    while (!sw.done()) {
      uint32_t f, wt;
      if (!sw.tag(&f, &wt)) return false;
      std::string_view b;
      if (wt == 2 && f >= 1 && f <= 3) {
        if (!sw.bytes(&b)) return false;
        if (f == 1) {
          if (!r_.utf8(b)) return false;
          scope.name = b;
        } else if (f == 2) {
          if (!r_.utf8(b)) return false;
          scope.version = b;
        } else {
          std::string_view k;
          AnyValue v;
          if (!r_.keyValue(b, 1, &k, &v)) return false;  // attributes: checked, not used
        }
      } else if (!sw.skip(wt)) {
        return false;
      }
    }
    conv_->scope(scope);
    Wire rw(msg);
    while (!rw.done()) {
      uint32_t f, wt;
      if (!rw.tag(&f, &wt)) return false;
      std::string_view b;
      if (wt == 2 && f == 2) {
        if (!rw.bytes(&b) || !logRecord(b)) return false;
      } else if (!rw.skip(wt)) {
        return false;
      }
    }
    return true;
  }

  bool logRecord(std::string_view msg) {
    LogRecord lr;
    bool has_body = false;
    AttrList& attrs = conv_->recordAttributes();
    attrs.clear();
    Wire w(msg);
    while (!w.done()) {
      uint32_t f, wt;
      if (!w.tag(&f, &wt)) return false;
      std::string_view b;
      uint64_t v;
      uint32_t v32;
      switch (f) {
        case 1:
        case 11:
          if (wt != 1) break;
          if (!w.fixed64(&v)) return false;
          (f == 1 ? lr.time_unix_nano : lr.observed_time_unix_nano) = v;
          continue;
        case 2:
          if (wt != 0) break;
          if (!w.varint(&v)) return false;
          lr.severity_number = static_cast<int32_t>(v);
          continue;
        case 3:
        case 12:
          if (wt != 2) break;
          if (!w.bytes(&b) || !r_.utf8(b)) return false;
          if (f == 3) lr.severity_text = b;  // 12: event_name, not converted
          continue;
        case 5:
          if (wt != 2) break;
          if (has_body || !w.bytes(&b) || !r_.anyValue(b, 1, &lr.body)) return false;
          has_body = true;
          continue;
        case 6: {
          if (wt != 2) break;
          std::string_view k;
          AnyValue av;
          if (!w.bytes(&b) || !r_.keyValue(b, 1, &k, &av)) return false;
          attrs.emplace_back(k, av);
          continue;
        }
        case 8:
          if (wt != 5) break;
          if (!w.fixed32(&v32)) return false;
          lr.flags = v32;
          continue;
        case 9:
        case 10:
          if (wt != 2) break;
          if (!w.bytes(&b)) return false;
          (f == 9 ? lr.trace_id : lr.span_id) = b;
          continue;
        default:
          break;
      }
      if (!w.skip(wt)) return false;
    }
    conv_->record(lr);
    return true;
  }

  const Reader& r_;
  Converter* conv_;
  std::vector<std::string_view> scopes_;
};

bool readInto(std::string_view payload, bool check, const ConvertOptions& opts,
              ConvertResult* result) {
  result->batch.clear();
  result->dropped = 0;
  result->first_error.clear();
  result->batch.text.reserve(payload.size() * 2);
  Reader reader(check);
  Converter conv(opts, result);
  RequestReader rr(reader, &conv);
  return rr.request(payload);
}

}  // namespace

absl::Status convertLogsInto(std::string_view payload, const ConvertOptions& opts,
                             ConvertResult* result) {
  if (payload.size() <= static_cast<size_t>(INT32_MAX) &&
      readInto(payload, /*check=*/true, opts, result)) {
    return absl::OkStatus();
  }
  // Malformed, or valid in a way the reader leaves to protobuf (merged repeated messages,
  // groups, odd encodings): protobuf decides, and its own encoding of what it parsed (unknown
  // fields dropped) is read instead.
  const auto malformed = [] {
    return absl::InvalidArgumentError("otelcol.exporter.loki: malformed ExportLogsServiceRequest");
  };
  ExportLogsServiceRequest req;
  if (payload.size() > static_cast<size_t>(INT32_MAX) ||
      !req.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    result->batch.clear();
    return malformed();
  }
  req.DiscardUnknownFields();
  std::string canonical = req.SerializeAsString();
  if (!readInto(canonical, /*check=*/false, opts, result)) {
    result->batch.clear();
    return malformed();
  }
  // The batch's strings are copies (labels) or encoded text: nothing refers to `canonical`.
  return absl::OkStatus();
}

absl::StatusOr<ConvertResult> convertLogs(std::string_view payload, const ConvertOptions& opts) {
  ConvertResult result;
  absl::Status st = convertLogsInto(payload, opts, &result);
  if (!st.ok()) return st;
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

bool LokiConsumer::durable(pdata::Signal s) const {
  if (s != pdata::Signal::kLogs) return false;
  auto cfg = config();
  if (cfg == nullptr || cfg->receivers.empty()) return false;
  for (const auto& r : cfg->receivers) {
    if (!r->durable()) return false;
  }
  return true;
}

absl::Status LokiConsumer::consume(pdata::Batch&& batch) {
  if (batch.signal != pdata::Signal::kLogs) {
    return absl::UnimplementedError(strCat(id_, " accepts logs only"));
  }
  auto cfg = config();
  ConvertOptions opts;
  opts.service_name_label = cfg->service_name_label;
  if (batch.client) opts.tenant = batch.client->tenant;
  // Reused per thread (see loki/api.h: a receiver that moves from the batch just takes the
  // buffers; clear() works on what is left).
  thread_local ConvertResult result;
  ConvertResult* converted = &result;
  absl::Status parsed = convertLogsInto(batch.payload, opts, converted);
  if (!parsed.ok()) {
    malformed_->inc(static_cast<double>(batch.items));
    return parsed;
  }
  if (converted->dropped > 0) {
    dropped_convert_->inc(static_cast<double>(converted->dropped));
    if (convert_log_.shouldLog()) {
      logger_.error(
          "failed to convert log to loki entry",
          {{"err", converted->first_error}, {"dropped", std::to_string(converted->dropped)}});
    }
  }
  loki::EntryBatch& entries = converted->batch;
  if (entries.empty()) return absl::OkStatus();
  const size_t n = entries.size();
  size_t refused_by = 0;
  // The last receiver gets the batch itself; when it only reads it (loki.write), the buffers
  // come back for the next call.
  absl::Status st = components::fanOut(
      cfg->receivers, std::move(entries),
      [](const auto& r, loki::EntryBatch&& items) { return r->pushBatch(std::move(items)); },
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
  if (result.batch.text.capacity() > (64u << 20)) result = ConvertResult();  // after a huge one
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
