// otlpJsonToWire(): OTLP/JSON -> protobuf wire bytes, streaming, without a DOM.
//
// Design: a recursive-descent decoder driven by the OTLP schema tables (otlp_schema.cc) reads the
// body once, front to back, with json::Scanner (json_scan.h), and appends wire bytes to a sink
// (otlp_json_sink.h) as it goes. It holds nothing per element: the only memory that grows with
// the input is the output buffer (plus a scratch copy of one escaped string that is not written
// through, e.g. a base64 value containing "\/"). Schema errors therefore stop the decode at the
// first bad element. UTF-8 is validated for the whole body up front (simdjson::validate_utf8,
// which does not allocate).
//
// Memory (see kOtlpJsonWorkingMemoryFactor in otlp_decode.h): the first pass writes into a
// buffer reserved at kInitialShare of the body and allowed to grow once to the body's size plus
// kSlack. The wire form of a real OTLP/JSON body is smaller than the body (keys and quotes go,
// hex ids halve, 64-bit numbers shrink from 19 digits to 8 bytes), so nearly every body finishes
// in that pass. Only bodies dominated by short packed numbers (e.g. "explicitBounds":[0,0,...],
// 2 JSON bytes -> 8 wire bytes) can need more: then the buffer is freed, a counting pass computes
// the exact wire size, and a third pass writes into a buffer of exactly that size. The bound:
// first pass <= 1.75x (growth copy) + one escaped string; exact pass <= wire size + that string,
// and the wire form plus the string is at most 4x the body.
// Proto3 defaults are not written (as protobuf's serializer does) except for oneof members and
// `optional` fields, whose presence matters. The result is then walked by checkAndCount(), which
// counts the items and guarantees both entry points accept exactly the same wire messages.
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "src/common/strings.h"
#include "src/pdata/json_scan.h"
#include "src/pdata/otlp_decode.h"
#include "src/pdata/otlp_json_sink.h"
#include "src/pdata/otlp_json_values.h"
#include "src/pdata/wire.h"

namespace telegate::pdata {
namespace {

using json::Number;
using json::StringToken;
using json_sink::CountSink;
using json_sink::kI32;
using json_sink::kI64;
using json_sink::kLen;
using json_sink::kVarint;
using json_sink::WriteSink;
using json_values::JsonInt;
using otlp_schema::Field;
using otlp_schema::Kind;
using otlp_schema::Message;

constexpr size_t kSlack = 256;
// First-pass reservation as a share of the body: above the usual wire/JSON ratio (0.4-0.65).
constexpr double kInitialShare = 0.75;
// Longest value echoed in an error message.
constexpr size_t kMaxEchoedValue = 64;

uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// a == b, by words (the first and last 4 or 8 bytes overlap for lengths that are not multiples).
bool sameText(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (load64(x + i) != load64(y + i)) return false;
    }
    return load64(x + n - 8) == load64(y + n - 8);
  }
  if (n >= 4) return load32(x) == load32(y) && load32(x + n - 4) == load32(y + n - 4);
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return false;
  }
  return true;
}

// The field named `key` (lowerCamelCase or snake_case). The search starts at *hint, the field
// after the previous match: producers write fields in a fixed order, usually the schema's.
const Field* findField(const Message& m, std::string_view key, uint32_t* hint) {
  if (key.empty()) return nullptr;
  uint32_t i = *hint < m.count ? *hint : 0;
  for (uint32_t k = 0; k < m.count; ++k, ++i) {
    if (i == m.count) i = 0;
    const Field& f = m.fields[i];
    if (sameText(key, f.json_name) || sameText(key, f.name)) {
      *hint = i + 1;
      return &f;
    }
  }
  return nullptr;
}

// One pass over the body into Sink. Functions return false on the first problem; the path is
// collected while unwinding (nothing is recorded on success).
template <class Sink>
class Decoder {
 public:
  Decoder(std::string_view json, Sink* out) : in_(json), out_(*out) {}

  bool document(const Message& request) {
    in_.skipWs();
    if (!message(request, 0)) return false;
    in_.skipWs();
    if (!in_.atEnd()) return in_.fail("unexpected data after the JSON value");
    return true;
  }

  bool overflowed() const { return overflow_; }
  absl::Status error() const {
    if (syntax()) return absl::InvalidArgumentError(strCat("invalid JSON: ", in_.error()));
    std::string path;
    for (auto it = path_.rbegin(); it != path_.rend(); ++it) {
      if (!path.empty() && (*it)[0] != '[') path.push_back('.');
      path += *it;
    }
    return absl::InvalidArgumentError(
        strCat(problem_, " at ", path.empty() ? std::string("top level") : path));
  }

 private:
  bool syntax() const { return in_.failed(); }
  bool fail(std::string problem) {
    problem_ = std::move(problem);
    return false;
  }
  // A value of the wrong JSON type: a schema error, unless the byte cannot start a value at all.
  bool typeError(std::string problem) {
    if (!in_.atValueStart()) {
      return in_.fail(in_.atEnd() ? "unexpected end of input" : "expected a value");
    }
    return fail(std::move(problem));
  }
  bool overflow() {
    overflow_ = true;
    return false;
  }
  bool stopped() const { return overflow_ || syntax(); }
  bool in(std::string_view name) {
    if (!stopped()) path_.emplace_back(name);
    return false;
  }
  bool inIndex(size_t i) {
    if (!stopped()) path_.push_back(strCat("[", i, "]"));
    return false;
  }

  bool message(const Message& m, int depth);
  bool field(const Field& f, int depth);
  bool submessage(const Field& f, int depth);
  bool scalar(const Field& f, bool packed_element);
  bool stringField(const Field& f, bool always);
  std::string_view text(const StringToken& t);
  bool readInt(JsonInt* out);
  bool intText(std::string_view s, JsonInt* out) {
    const char* problem = json_values::intText(s, out);
    return problem == nullptr || fail(problem);
  }
  bool readRangedInt(const Field& f, uint64_t* bits);
  bool inRange(const Field& f, const JsonInt& n, uint64_t* bits) {
    return json_values::inRange(f.kind, n, bits) || fail("integer out of range");
  }
  bool readDouble(double* out);
  bool readEnum(const Field& f, uint64_t* bits);
  bool writeHexId(const Field& f, std::string_view hex);
  bool writeBase64(const Field& f, std::string_view b64, bool presence);

  json::Scanner in_;
  Sink& out_;
  bool overflow_ = false;
  std::string problem_;
  std::vector<std::string> path_;
  std::string scratch_;  // unescaped copy of an escaped string that is read, not written through
};

template <class Sink>
bool Decoder<Sink>::message(const Message& m, int depth) {
  if (in_.peek() != '{') return typeError(strCat("expected a JSON object for ", m.name));
  in_.advance();
  in_.skipWs();
  if (in_.peek() == '}') {
    in_.advance();
    return true;
  }
  uint32_t hint = 0;
  for (;;) {
    if (in_.peek() != '"') return in_.fail("expected a string key");
    StringToken key;
    if (!in_.string(&key) || !in_.expect(':', "expected ':'")) return false;
    in_.skipWs();
    std::string_view name = key.raw;
    char buf[64];
    if (key.escaped) {
      const size_t n = json::unescape(key.raw, nullptr);
      name = n <= sizeof(buf) ? std::string_view(buf, json::unescape(key.raw, buf)) : "";
    }
    const Field* f = findField(m, name, &hint);
    if (f == nullptr) {
      if (!in_.skipValue()) return false;  // unknown fields are ignored
    } else if (!field(*f, depth)) {
      return in(f->json_name);
    }
    in_.skipWs();
    const char c = in_.peek();
    if (c != ',' && c != '}') return in_.fail("expected ',' or '}'");
    in_.advance();
    if (c == '}') return true;
    in_.skipWs();
  }
}

template <class Sink>
bool Decoder<Sink>::submessage(const Field& f, int depth) {
  if (depth + 1 > kMaxMessageDepth) {
    return fail(strCat("message nesting deeper than ", kMaxMessageDepth));
  }
  if (!out_.room(16)) return overflow();
  const size_t start = out_.beginLen(f.number);
  if (in_.peek() == 'n') {
    if (!in_.literal("null")) return false;  // a null element of a message list: empty message
  } else if (!message(*f.message, depth + 1)) {
    return false;
  }
  return out_.endLen(start) || overflow();
}

template <class Sink>
bool Decoder<Sink>::field(const Field& f, int depth) {
  if (in_.peek() == 'n') return in_.literal("null");  // null = absent
  if (!f.repeated) {
    if (f.kind == Kind::kMessage) return submessage(f, depth);
    return scalar(f, false);
  }
  if (in_.peek() != '[') return typeError("expected a JSON array");
  in_.advance();
  in_.skipWs();
  const bool packed = f.kind != Kind::kMessage && f.kind != Kind::kString && f.kind != Kind::kBytes;
  size_t tag_at = 0, start = 0;
  if (packed) {
    if (!out_.room(16)) return overflow();
    tag_at = out_.size();
    start = out_.beginLen(f.number);
  }
  size_t i = 0;
  if (in_.peek() != ']') {
    for (;; ++i) {
      if (f.kind == Kind::kMessage) {
        if (!submessage(f, depth)) return inIndex(i);
      } else {
        if (in_.peek() == 'n') {
          if (!in_.literal("null")) return false;
          return fail("null in array"), inIndex(i);
        }
        if (!scalar(f, true)) return inIndex(i);  // every element is written
      }
      in_.skipWs();
      const char c = in_.peek();
      if (c == ']') break;
      if (c != ',') return in_.fail("expected ',' or ']'");
      in_.advance();
      in_.skipWs();
    }
  }
  in_.advance();  // ']'
  if (!packed) return true;
  if (out_.size() == start) {
    out_.truncate(tag_at);  // an empty packed field is not written
    return true;
  }
  return out_.endLen(start) || overflow();
}

// The unescaped text of a string token: a view of the input, or of scratch_ when escaped.
template <class Sink>
std::string_view Decoder<Sink>::text(const StringToken& t) {
  if (!t.escaped) return t.raw;
  scratch_.resize(t.raw.size());
  scratch_.resize(json::unescape(t.raw, scratch_.data()));
  return scratch_;
}

template <class Sink>
bool Decoder<Sink>::readInt(JsonInt* out) {
  const char c = in_.peek();
  if (c == '-' || (c >= '0' && c <= '9')) {
    Number n;
    if (!in_.number(&n)) return false;
    if (n.is_int) {
      out->negative = n.negative;
      out->magnitude = n.magnitude;
      return true;
    }
    const double d = n.value;
    if (!std::isfinite(d) || std::trunc(d) != d) return fail("expected an integer");
    if (std::fabs(d) >= 18446744073709551616.0) return fail("integer out of range");
    out->negative = d < 0;
    out->magnitude = static_cast<uint64_t>(std::fabs(d));
    return true;
  }
  if (c != '"') return typeError("expected an integer");
  StringToken t;
  return in_.string(&t) && intText(text(t), out);
}

// Reads an integer for an integer-typed field and range-checks it; *bits is the value as the
// 64-bit two's complement pattern (what a varint or fixed field carries).
template <class Sink>
bool Decoder<Sink>::readRangedInt(const Field& f, uint64_t* bits) {
  JsonInt n;
  return readInt(&n) && inRange(f, n, bits);
}

template <class Sink>
bool Decoder<Sink>::readDouble(double* out) {
  const char c = in_.peek();
  if (c == '-' || (c >= '0' && c <= '9')) {
    Number n;
    if (!in_.number(&n)) return false;
    if (!n.is_int) {
      *out = n.value;
    } else if (n.negative) {
      *out = static_cast<double>(static_cast<int64_t>(0 - n.magnitude));
    } else {
      *out = static_cast<double>(n.magnitude);
    }
    return true;
  }
  if (c != '"') return typeError("expected a number");
  StringToken t;
  if (!in_.string(&t)) return false;
  const char* problem = json_values::doubleText(text(t), out);
  return problem == nullptr || fail(problem);
}

template <class Sink>
bool Decoder<Sink>::readEnum(const Field& f, uint64_t* bits) {
  if (in_.peek() != '"') return readRangedInt(f, bits);
  StringToken t;
  if (!in_.string(&t)) return false;
  const std::string_view s = text(t);
  const otlp_schema::Enum& e = *f.enum_type;
  for (uint32_t i = 0; i < e.count; ++i) {
    if (e.values[i].name == s) {
      *bits = static_cast<uint64_t>(static_cast<int64_t>(e.values[i].number));
      return true;
    }
  }
  if (s.empty() || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) {
    const bool cut = s.size() > kMaxEchoedValue;
    return fail(
        strCat("unknown enum value \"", s.substr(0, kMaxEchoedValue), cut ? "...\"" : "\""));
  }
  JsonInt n;
  return intText(s, &n) && inRange(f, n, bits);
}

template <class Sink>
bool Decoder<Sink>::writeHexId(const Field& f, std::string_view hex) {
  if (hex.empty()) return true;  // "" = absent
  const size_t want = f.kind == Kind::kTraceId ? 16 : 8;
  if (hex.size() != want * 2) {
    return fail(strCat("invalid length for ID: ", hex.size(), " hex digits, want ", want * 2));
  }
  char bytes[16];
  if (!json_values::hexBytes(hex, bytes)) return fail("invalid hex in ID");
  if (!out_.room(24)) return overflow();
  out_.tag(f.number, kLen);
  out_.varint(want);
  out_.bytes(bytes, want);
  return true;
}

template <class Sink>
bool Decoder<Sink>::writeBase64(const Field& f, std::string_view b64, bool presence) {
  size_t chars = 0, decoded = 0;
  if (!json_values::base64Size(b64, &chars, &decoded)) return fail("invalid base64");
  if (decoded == 0 && !presence) return true;
  if (!out_.room(decoded + 16)) return overflow();
  out_.tag(f.number, kLen);
  out_.varint(decoded);
  if (!json_values::base64Decode(b64.substr(0, chars), out_.tail())) {
    return fail("invalid base64");
  }
  out_.advance(decoded);
  return true;
}

template <class Sink>
bool Decoder<Sink>::stringField(const Field& f, bool always) {
  if (in_.peek() != '"') return typeError("expected a string");
  StringToken t;
  if (!in_.string(&t)) return false;
  if (!t.escaped) {
    if (t.raw.empty() && !always) return true;
    if (!out_.room(t.raw.size() + 16)) return overflow();
    out_.tag(f.number, kLen);
    out_.varint(t.raw.size());
    out_.bytes(t.raw.data(), t.raw.size());
    return true;
  }
  // Unescaped straight into the output (never longer than the raw text, never empty).
  const size_t n = json::unescape(t.raw, nullptr);
  if (!out_.room(n + 16)) return overflow();
  const size_t start = out_.beginLen(f.number);
  out_.advance(json::unescape(t.raw, out_.tail()));
  return out_.endLen(start) || overflow();
}

template <class Sink>
bool Decoder<Sink>::scalar(const Field& f, bool packed_element) {
  // Inside a packed array every element is written, and without a tag.
  const bool always = f.presence || packed_element;
  switch (f.kind) {
    case Kind::kMessage:
      return false;  // not reached
    case Kind::kString:
      return stringField(f, always);
    case Kind::kBytes:
    case Kind::kTraceId:
    case Kind::kSpanId: {
      const bool bytes = f.kind == Kind::kBytes;
      if (in_.peek() != '"') {
        return typeError(bytes ? "expected a base64 string" : "expected a hex string");
      }
      StringToken t;
      if (!in_.string(&t)) return false;
      const std::string_view s = text(t);
      return bytes ? writeBase64(f, s, always) : writeHexId(f, s);
    }
    case Kind::kBool: {
      const char c = in_.peek();
      if (c != 't' && c != 'f') return typeError("expected true or false");
      const bool b = c == 't';
      if (!in_.literal(b ? "true" : "false")) return false;
      if (!b && !always) return true;
      if (!out_.room(16)) return overflow();
      if (!packed_element) out_.tag(f.number, kVarint);
      out_.varint(b ? 1 : 0);
      return true;
    }
    case Kind::kDouble: {
      double d;
      if (!readDouble(&d)) return false;
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      if (bits == 0 && !always) return true;
      if (!out_.room(16)) return overflow();
      if (!packed_element) out_.tag(f.number, kI64);
      out_.fixed64(bits);
      return true;
    }
    default:
      break;
  }
  // Integer kinds.
  uint64_t bits;
  if (f.kind == Kind::kEnum) {
    if (!readEnum(f, &bits)) return false;
  } else if (!readRangedInt(f, &bits)) {
    return false;
  }
  if (bits == 0 && !always) return true;
  if (!out_.room(16)) return overflow();
  switch (f.kind) {
    case Kind::kFixed32:
      if (!packed_element) out_.tag(f.number, kI32);
      out_.fixed32(static_cast<uint32_t>(bits));
      return true;
    case Kind::kFixed64:
    case Kind::kSFixed64:
      if (!packed_element) out_.tag(f.number, kI64);
      out_.fixed64(bits);
      return true;
    case Kind::kSInt32: {
      const auto n = static_cast<int32_t>(static_cast<int64_t>(bits));
      if (!packed_element) out_.tag(f.number, kVarint);
      out_.varint(wire::zigzagEncode32(n));
      return true;
    }
    default:  // kInt32, kEnum (sign-extended to 64 bits, as protobuf does), kUInt32, kInt64,
              // kUInt64
      if (!packed_element) out_.tag(f.number, kVarint);
      out_.varint(bits);
      return true;
  }
}

absl::StatusOr<std::string> encode(Signal signal, std::string_view json) {
  const Message& request = otlp_schema::requestSchema(signal);
  const size_t first_cap = static_cast<size_t>(static_cast<double>(json.size()) * kInitialShare);
  {
    WriteSink sink(first_cap + kSlack, json.size() + kSlack);
    Decoder<WriteSink> dec(json, &sink);
    if (dec.document(request)) return sink.release();
    if (!dec.overflowed()) return dec.error();
  }
  // The wire form is larger than the body: size it exactly, then write it.
  CountSink counter;
  {
    Decoder<CountSink> dec(json, &counter);
    if (!dec.document(request)) return dec.error();
  }
  WriteSink sink(counter.size() + kSlack, counter.size() + kSlack);
  Decoder<WriteSink> dec(json, &sink);
  if (!dec.document(request)) {
    if (dec.overflowed()) return absl::InternalError("OTLP/JSON wire size miscounted");
    return dec.error();
  }
  return sink.release();
}

}  // namespace

absl::StatusOr<DecodedJson> otlpJsonToWire(Signal signal, std::string_view json) {
  if (!simdjson::validate_utf8(json.data(), json.size())) {
    return absl::InvalidArgumentError("invalid JSON: invalid UTF-8");
  }
  absl::StatusOr<std::string> wire = encode(signal, json);
  if (!wire.ok()) return wire.status();
  auto items = checkAndCount(signal, *wire);
  if (!items.ok()) return items.status();
  DecodedJson result;
  result.wire = std::move(*wire);
  result.items = *items;
  return result;
}

}  // namespace telegate::pdata
