// otlpJsonToWire(): OTLP/JSON -> protobuf wire bytes, without protobuf message objects.
//
// Design: simdjson parses the body into its DOM (one thread-local parser, reused), then a
// schema-driven encoder (the tables in otlp_wire.cc) walks the DOM and appends wire bytes to one
// string. Length prefixes of nested messages are written after their payload: one placeholder
// byte is reserved and, when the payload turns out to be 128 bytes or longer, the payload is
// shifted to make room for the longer varint. Proto3 defaults are not written (as protobuf's
// serializer does) except for oneof members and `optional` fields, whose presence matters.
// The result is then walked by checkAndCount(), which counts the items and guarantees both entry
// points (protobuf and JSON) accept exactly the same wire messages.
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

#include "src/common/strings.h"
#include "src/pdata/otlp_decode.h"

namespace telegate::pdata {
namespace {

using otlp_schema::Field;
using otlp_schema::Kind;
using otlp_schema::Message;
using simdjson::dom::element;
using simdjson::dom::element_type;

enum WireType : uint32_t { kVarint = 0, kI64 = 1, kLen = 2, kI32 = 5 };

// Drop the thread's parser buffers after a document this large, so one huge request does not pin
// memory in every worker thread.
constexpr size_t kParserKeepCapacity = 16u << 20;

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

// An integer read from JSON (number or decimal string) as sign and magnitude.
struct JsonInt {
  bool negative = false;
  uint64_t magnitude = 0;
  uint64_t bits() const { return negative ? 0 - magnitude : magnitude; }
};

// Append-only output buffer: a std::string kept at its capacity, with its own length, so that
// small writes are plain stores (no per-byte size/terminator bookkeeping).
class WireBuffer {
 public:
  explicit WireBuffer(size_t reserve) { buf_.resize(reserve < 64 ? 64 : reserve); }
  size_t size() const { return len_; }
  char* data() { return buf_.data(); }
  // Returns room for n more bytes at the end (not yet part of the contents).
  char* tail(size_t n) {
    if (n > buf_.size() - len_) buf_.resize(std::max(buf_.size() * 2, len_ + n));
    return buf_.data() + len_;
  }
  void advance(size_t n) { len_ += n; }
  void truncate(size_t len) { len_ = len; }
  std::string release() {
    buf_.resize(len_);
    return std::move(buf_);
  }

 private:
  std::string buf_;
  size_t len_ = 0;
};

class Encoder {
 public:
  explicit Encoder(size_t reserve) : out_(reserve) {}

  bool message(const Message& m, element value, int depth);
  std::string release() { return out_.release(); }

  absl::Status error() const {
    std::string path;
    for (auto it = path_.rbegin(); it != path_.rend(); ++it) {
      if (!path.empty() && (*it)[0] != '[') path.push_back('.');
      path += *it;
    }
    return absl::InvalidArgumentError(
        strCat(problem_, " at ", path.empty() ? std::string("top level") : path));
  }

 private:
  bool fail(std::string problem) {
    problem_ = std::move(problem);
    return false;
  }
  bool in(std::string_view name) {
    path_.emplace_back(name);
    return false;
  }
  bool inIndex(size_t i) {
    path_.push_back(strCat("[", i, "]"));
    return false;
  }

  bool field(const Field& f, element v, int depth);
  bool submessage(const Field& f, element v, int depth);
  bool scalar(const Field& f, element v, bool packed_element);
  bool readInt(element v, JsonInt* out);
  bool readRangedInt(const Field& f, element v, uint64_t* bits);
  bool readDouble(element v, double* out);
  bool readEnum(const Field& f, element v, uint64_t* bits);
  bool writeHexId(const Field& f, std::string_view hex);
  bool writeBase64(const Field& f, std::string_view b64, bool presence);

  void putVarint(uint64_t v) {
    char* p = out_.tail(10);
    size_t n = 0;
    while (v >= 0x80) {
      p[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    p[n++] = static_cast<char>(v);
    out_.advance(n);
  }
  void putTag(uint32_t number, uint32_t wire_type) { putVarint((number << 3) | wire_type); }
  void putFixed32(uint32_t v) {
    char* p = out_.tail(4);
    for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
    out_.advance(4);
  }
  void putFixed64(uint64_t v) {
    char* p = out_.tail(8);
    for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
    out_.advance(8);
  }
  void putBytes(const char* data, size_t n) {
    std::memcpy(out_.tail(n), data, n);
    out_.advance(n);
  }
  // Starts a length-delimited field; returns the offset of its payload.
  size_t beginLen(uint32_t number) {
    putTag(number, kLen);
    *out_.tail(1) = 0;
    out_.advance(1);
    return out_.size();
  }
  void endLen(size_t start) {
    const size_t len = out_.size() - start;
    if (len < 0x80) {
      out_.data()[start - 1] = static_cast<char>(len);
      return;
    }
    char buf[10];
    size_t n = 0;
    uint64_t v = len;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_.tail(n - 1);
    char* d = out_.data();
    std::memmove(d + start + n - 1, d + start, len);
    out_.advance(n - 1);
    std::memcpy(d + start - 1, buf, n);
  }

  WireBuffer out_;
  std::string problem_;
  std::vector<std::string> path_;
};

const Field* findField(const Message& m, std::string_view key) {
  for (uint32_t i = 0; i < m.count; ++i) {
    const Field& f = m.fields[i];
    // First byte, then length, then the rest: most candidates fail on the first byte.
    if (!key.empty() && key[0] == f.json_name[0] && key == f.json_name) return &f;
    if (!key.empty() && key[0] == f.name[0] && key == f.name) return &f;
  }
  return nullptr;
}

bool Encoder::message(const Message& m, element value, int depth) {
  simdjson::dom::object obj;
  if (value.get_object().get(obj) != simdjson::SUCCESS) {
    return fail(strCat("expected a JSON object for ", m.name));
  }
  for (auto kv : obj) {
    const Field* f = findField(m, kv.key);
    if (f == nullptr) continue;  // unknown fields are ignored
    if (!field(*f, kv.value, depth)) return in(f->json_name);
  }
  return true;
}

bool Encoder::submessage(const Field& f, element v, int depth) {
  if (depth + 1 > kMaxMessageDepth) {
    return fail(strCat("message nesting deeper than ", kMaxMessageDepth));
  }
  const size_t start = beginLen(f.number);
  if (!v.is_null() && !message(*f.message, v, depth + 1)) return false;
  endLen(start);
  return true;
}

bool Encoder::field(const Field& f, element v, int depth) {
  if (v.is_null()) return true;  // null = absent
  if (!f.repeated) {
    if (f.kind == Kind::kMessage) return submessage(f, v, depth);
    return scalar(f, v, false);
  }
  simdjson::dom::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) return fail("expected a JSON array");
  if (f.kind == Kind::kMessage) {
    size_t i = 0;
    for (element e : arr) {
      if (!submessage(f, e, depth)) return inIndex(i);
      ++i;
    }
    return true;
  }
  if (f.kind == Kind::kString || f.kind == Kind::kBytes) {
    size_t i = 0;
    for (element e : arr) {
      if (e.is_null()) return fail("null in array"), inIndex(i);
      if (!scalar(f, e, true)) return inIndex(i);
      ++i;
    }
    return true;
  }
  // Packed repeated scalar.
  const size_t tag_at = out_.size();
  const size_t start = beginLen(f.number);
  size_t i = 0;
  for (element e : arr) {
    if (e.is_null()) return fail("null in array"), inIndex(i);
    if (!scalar(f, e, true)) return inIndex(i);
    ++i;
  }
  if (i == 0) {
    out_.truncate(tag_at);
  } else {
    endLen(start);
  }
  return true;
}

bool Encoder::readInt(element v, JsonInt* out) {
  switch (v.type()) {
    case element_type::INT64: {
      int64_t i = v.get_int64().value_unsafe();
      out->negative = i < 0;
      out->magnitude = i < 0 ? 0 - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
      return true;
    }
    case element_type::UINT64:
      out->negative = false;
      out->magnitude = v.get_uint64().value_unsafe();
      return true;
    case element_type::DOUBLE: {
      double d = v.get_double().value_unsafe();
      if (!std::isfinite(d) || std::trunc(d) != d) return fail("expected an integer");
      if (std::fabs(d) >= 18446744073709551616.0) return fail("integer out of range");
      out->negative = d < 0;
      out->magnitude = static_cast<uint64_t>(std::fabs(d));
      return true;
    }
    case element_type::STRING: {
      std::string_view s = v.get_string().value_unsafe();
      size_t i = 0;
      out->negative = false;
      if (!s.empty() && s[0] == '-') {
        out->negative = true;
        i = 1;
      }
      if (i == s.size()) return fail("expected an integer");
      uint64_t m = 0;
      for (; i < s.size(); ++i) {
        const char c = s[i];
        if (c < '0' || c > '9') return fail("expected an integer");
        const uint64_t d = static_cast<uint64_t>(c - '0');
        if (m > (UINT64_MAX - d) / 10) return fail("integer out of range");
        m = m * 10 + d;
      }
      out->magnitude = m;
      if (m == 0) out->negative = false;
      return true;
    }
    default:
      return fail("expected an integer");
  }
}

// Reads an integer for an integer-typed field and range-checks it; *bits is the value as the
// 64-bit two's complement pattern (what a varint or fixed field carries).
bool Encoder::readRangedInt(const Field& f, element v, uint64_t* bits) {
  JsonInt n;
  if (!readInt(v, &n)) return false;
  uint64_t max_pos = 0, max_neg = 0;  // largest magnitude allowed when positive / negative
  switch (f.kind) {
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
  if (n.magnitude > (n.negative ? max_neg : max_pos)) return fail("integer out of range");
  *bits = n.bits();
  return true;
}

bool Encoder::readDouble(element v, double* out) {
  switch (v.type()) {
    case element_type::DOUBLE:
      *out = v.get_double().value_unsafe();
      return true;
    case element_type::INT64:
      *out = static_cast<double>(v.get_int64().value_unsafe());
      return true;
    case element_type::UINT64:
      *out = static_cast<double>(v.get_uint64().value_unsafe());
      return true;
    case element_type::STRING: {
      std::string_view s = v.get_string().value_unsafe();
      if (s == "NaN") {
        *out = std::numeric_limits<double>::quiet_NaN();
        return true;
      }
      if (s == "Infinity") {
        *out = std::numeric_limits<double>::infinity();
        return true;
      }
      if (s == "-Infinity") {
        *out = -std::numeric_limits<double>::infinity();
        return true;
      }
      const size_t digit = !s.empty() && s[0] == '-' ? 1 : 0;
      if (s.size() <= digit || !((s[digit] >= '0' && s[digit] <= '9') || s[digit] == '.')) {
        return fail("expected a number");
      }
      double d = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (ec == std::errc::result_out_of_range) return fail("number out of range");
      if (ec != std::errc() || ptr != s.data() + s.size()) return fail("expected a number");
      *out = d;
      return true;
    }
    default:
      return fail("expected a number");
  }
}

bool Encoder::readEnum(const Field& f, element v, uint64_t* bits) {
  if (v.type() == element_type::STRING) {
    std::string_view s = v.get_string().value_unsafe();
    const otlp_schema::Enum& e = *f.enum_type;
    for (uint32_t i = 0; i < e.count; ++i) {
      if (e.values[i].name == s) {
        *bits = static_cast<uint64_t>(static_cast<int64_t>(e.values[i].number));
        return true;
      }
    }
    if (s.empty() || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) {
      return fail(strCat("unknown enum value \"", s, "\""));
    }
  }
  return readRangedInt(f, v, bits);
}

bool Encoder::writeHexId(const Field& f, std::string_view hex) {
  if (hex.empty()) return true;  // "" = absent
  const size_t want = f.kind == Kind::kTraceId ? 16 : 8;
  if (hex.size() != want * 2) {
    return fail(strCat("invalid length for ID: ", hex.size(), " hex digits, want ", want * 2));
  }
  char bytes[16];
  int bad = 0;
  for (size_t i = 0; i < want; ++i) {
    const int hi = kHexValue[static_cast<uint8_t>(hex[2 * i])];
    const int lo = kHexValue[static_cast<uint8_t>(hex[2 * i + 1])];
    bad |= hi | lo;
    bytes[i] = static_cast<char>((static_cast<unsigned>(hi) << 4) | static_cast<unsigned>(lo));
  }
  if (bad < 0) return fail("invalid hex in ID");
  putTag(f.number, kLen);
  putVarint(want);
  putBytes(bytes, want);
  return true;
}

bool Encoder::writeBase64(const Field& f, std::string_view b64, bool presence) {
  size_t n = b64.size();
  if (n > 0 && b64[n - 1] == '=') --n;
  if (n > 0 && b64[n - 1] == '=') --n;
  if (n % 4 == 1) return fail("invalid base64");
  const size_t decoded = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
  if (decoded == 0 && !presence) {
    return true;
  }
  putTag(f.number, kLen);
  putVarint(decoded);
  char* w = out_.tail(decoded);
  out_.advance(decoded);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    const int v = base64Value(b64[i]);
    if (v < 0) return fail("invalid base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *w++ = static_cast<char>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return true;
}

bool Encoder::scalar(const Field& f, element v, bool packed_element) {
  // Inside a packed array every element is written, and without a tag.
  const bool always = f.presence || packed_element;
  switch (f.kind) {
    case Kind::kMessage:
      return false;  // not reached
    case Kind::kString: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return fail("expected a string");
      if (s.empty() && !always) return true;
      putTag(f.number, kLen);
      putVarint(s.size());
      putBytes(s.data(), s.size());
      return true;
    }
    case Kind::kBytes: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return fail("expected a base64 string");
      return writeBase64(f, s, always);
    }
    case Kind::kTraceId:
    case Kind::kSpanId: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return fail("expected a hex string");
      return writeHexId(f, s);
    }
    case Kind::kBool: {
      bool b;
      if (v.get_bool().get(b) != simdjson::SUCCESS) return fail("expected true or false");
      if (!b && !always) return true;
      if (!packed_element) putTag(f.number, kVarint);
      putVarint(b ? 1 : 0);
      return true;
    }
    case Kind::kDouble: {
      double d;
      if (!readDouble(v, &d)) return false;
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      if (bits == 0 && !always) return true;
      if (!packed_element) putTag(f.number, kI64);
      putFixed64(bits);
      return true;
    }
    default:
      break;
  }
  // Integer kinds.
  uint64_t bits;
  if (f.kind == Kind::kEnum) {
    if (!readEnum(f, v, &bits)) return false;
  } else if (!readRangedInt(f, v, &bits)) {
    return false;
  }
  if (bits == 0 && !always) return true;
  switch (f.kind) {
    case Kind::kFixed32:
      if (!packed_element) putTag(f.number, kI32);
      putFixed32(static_cast<uint32_t>(bits));
      return true;
    case Kind::kFixed64:
    case Kind::kSFixed64:
      if (!packed_element) putTag(f.number, kI64);
      putFixed64(bits);
      return true;
    case Kind::kSInt32: {
      const auto n = static_cast<int32_t>(static_cast<int64_t>(bits));
      const uint32_t zz = (static_cast<uint32_t>(n) << 1) ^ static_cast<uint32_t>(n >> 31);
      if (!packed_element) putTag(f.number, kVarint);
      putVarint(zz);
      return true;
    }
    default:  // kInt32, kEnum (sign-extended to 64 bits, as protobuf does), kUInt32, kInt64,
              // kUInt64
      if (!packed_element) putTag(f.number, kVarint);
      putVarint(bits);
      return true;
  }
}

}  // namespace

absl::StatusOr<DecodedJson> otlpJsonToWire(Signal signal, std::string_view json) {
  thread_local simdjson::dom::parser parser;
  DecodedJson result;
  {
    element doc;
    auto err = parser.parse(json.data(), json.size()).get(doc);
    if (err != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(strCat("invalid JSON: ", simdjson::error_message(err)));
    }
    Encoder enc(json.size() / 5 * 3 + 64);  // wire is typically 55-60% of the JSON
    if (!enc.message(otlp_schema::requestSchema(signal), doc, 0)) {
      auto st = enc.error();
      if (parser.capacity() > kParserKeepCapacity) parser = simdjson::dom::parser();
      return st;
    }
    result.wire = enc.release();
  }
  if (parser.capacity() > kParserKeepCapacity) parser = simdjson::dom::parser();
  auto items = checkAndCount(signal, result.wire);
  if (!items.ok()) return items.status();
  result.items = *items;
  return result;
}

}  // namespace telegate::pdata
