// The protobuf wire-format codec: the one place that reads and writes varints, zigzag values,
// fixed32/64 fields, tags and length-delimited fields. Every hand-written protobuf reader and
// encoder in telegate (the OTLP walker and splitter, the OTLP/JSON transcoder, loki.write's
// PushRequest, prometheus.remote_write's WriteRequest, the scrape label-set keys, the debug
// exporter) uses these functions instead of its own loop.
//
// Contract:
// - Varints are base-128, least significant group first, the high bit set on every byte but the
//   last; a 64-bit value takes at most kMaxVarintBytes (10) bytes. Writers always emit the
//   shortest form.
// - Readers never read outside [p, end) (or outside the string_view they are given) and report
//   problems as a Status value, never by exception or assertion. On kOk the cursor is advanced
//   past what was read; on any other status the cursor and the output are unspecified (callers
//   report the error and stop).
// - readVarint() accepts up to 10 bytes; a 10th byte above 1 (bits past 64, or a continuation
//   bit) is kOverflow, running out of input kTruncated. Overlong encodings of small values
//   (e.g. 0x80 0x00) are accepted, as protobuf does.
// - readVarint32() (tags and length prefixes, like protobuf's ReadTag/ReadSize) reads at most 5
//   bytes: a continuation bit in the 5th byte is kTooLong; a value over 32 bits is kOverflow.
// - readTag() rejects tags over 32 bits (kBadTag) and field number 0 (kFieldZero); it does not
//   judge the wire type. readLength() reads a length prefix with readVarint32() and checks that
//   the payload fits before `end` (kLengthPastEnd). readField() reads one whole field of any
//   wire type; groups (3, 4) are kGroup, types 6 and 7 kBadWireType.
// - Writers: put*() write into a buffer the caller sized (varintSize() and the *Size() helpers
//   give exact sizes) and return the position after what they wrote; append*() grow a string.
// - Fixed32/64 are little-endian regardless of the host.
// Threading: pure functions without state; safe from any thread. Header-only so the hot paths
// (one-byte varints and tags) inline into the walkers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace telegate::pdata::wire {

// ---------------------------------------------------------------------------------------------
// Shared vocabulary.

enum WireType : uint32_t { kVarint = 0, kI64 = 1, kLen = 2, kSGroup = 3, kEGroup = 4, kI32 = 5 };

inline constexpr size_t kMaxVarintBytes = 10;
inline constexpr size_t kMaxVarint32Bytes = 5;

enum class Status : uint8_t {
  kOk = 0,
  kTruncated,      // input ended inside a varint, fixed value or length prefix
  kOverflow,       // varint value does not fit its type (64 bits, or 32 for readVarint32)
  kTooLong,        // a 32-bit varint (tag or length) longer than 5 bytes
  kBadTag,         // tag value over 32 bits or longer than 5 bytes
  kFieldZero,      // field number 0
  kGroup,          // start/end group wire type (not used by proto3)
  kBadWireType,    // wire type 6 or 7
  kLengthPastEnd,  // a length-delimited payload extends past the end of its message
};

// A short English description of `s` ("truncated varint", ...), for error messages.
constexpr std::string_view statusText(Status s) {
  switch (s) {
    case Status::kOk:
      return "ok";
    case Status::kTruncated:
      return "truncated input";
    case Status::kOverflow:
      return "varint overflows its type";
    case Status::kTooLong:
      return "varint longer than 5 bytes";
    case Status::kBadTag:
      return "invalid tag";
    case Status::kFieldZero:
      return "invalid field number 0";
    case Status::kGroup:
      return "group wire type is not supported";
    case Status::kBadWireType:
      return "invalid wire type";
    case Status::kLengthPastEnd:
      return "length-delimited field extends past the end of its message";
  }
  return "unknown wire status";
}

constexpr uint64_t makeTag(uint32_t number, uint32_t wire_type) {
  return (static_cast<uint64_t>(number) << 3) | wire_type;
}

constexpr uint64_t zigzagEncode64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
constexpr uint32_t zigzagEncode32(int32_t v) {
  return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}
constexpr int64_t zigzagDecode64(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}
constexpr int32_t zigzagDecode32(uint32_t v) {
  return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
}

// ---------------------------------------------------------------------------------------------
// Writing.

constexpr size_t varintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Bytes of a length-delimited field `number` with a payload of `len` bytes (tag + prefix + len).
constexpr size_t lenFieldSize(uint32_t number, size_t len) {
  return varintSize(makeTag(number, kLen)) + varintSize(len) + len;
}

inline char* putVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline char* putTag(char* p, uint32_t number, uint32_t wire_type) {
  return putVarint(p, makeTag(number, wire_type));
}

inline char* putFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) *p++ = static_cast<char>(v >> (8 * i));
  return p;
}

inline char* putFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) *p++ = static_cast<char>(v >> (8 * i));
  return p;
}

inline void appendVarint(std::string* out, uint64_t v) {
  char buf[kMaxVarintBytes];
  out->append(buf, static_cast<size_t>(putVarint(buf, v) - buf));
}

inline void appendTag(std::string* out, uint32_t number, uint32_t wire_type) {
  appendVarint(out, makeTag(number, wire_type));
}

inline void appendFixed32(std::string* out, uint32_t v) {
  char buf[4];
  out->append(buf, static_cast<size_t>(putFixed32(buf, v) - buf));
}

inline void appendFixed64(std::string* out, uint64_t v) {
  char buf[8];
  out->append(buf, static_cast<size_t>(putFixed64(buf, v) - buf));
}

// Appends field `number` (length-delimited) whose payload is `a` followed by `b`.
inline void appendLenField(std::string* out, uint32_t number, std::string_view a,
                           std::string_view b = {}) {
  appendTag(out, number, kLen);
  appendVarint(out, a.size() + b.size());
  out->append(a.data(), a.size());
  out->append(b.data(), b.size());
}

// ---------------------------------------------------------------------------------------------
// Reading from [p, end). The cursor `p` advances on kOk.

namespace detail {
inline Status readVarintSlow(const uint8_t*& p, const uint8_t* end, uint64_t* out) {
  uint64_t v = 0;
  for (size_t i = 0; i < kMaxVarintBytes; ++i) {
    if (p == end) return Status::kTruncated;
    const uint8_t b = *p++;
    if (i == kMaxVarintBytes - 1 && b > 1) return Status::kOverflow;
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if (b < 0x80) {
      *out = v;
      return Status::kOk;
    }
  }
  return Status::kOverflow;  // not reached: the 10th byte is <= 1
}

inline Status readVarint32Slow(const uint8_t*& p, const uint8_t* end, uint64_t* out) {
  uint64_t v = 0;
  for (size_t i = 0; i < kMaxVarint32Bytes; ++i) {
    if (p == end) return Status::kTruncated;
    const uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if (b < 0x80) {
      if (v > 0xffffffffu) return Status::kOverflow;
      *out = v;
      return Status::kOk;
    }
  }
  return Status::kTooLong;
}
}  // namespace detail

inline Status readVarint(const uint8_t*& p, const uint8_t* end, uint64_t* out) {
  if (p < end && *p < 0x80) [[likely]] {
    *out = *p++;
    return Status::kOk;
  }
  return detail::readVarintSlow(p, end, out);
}

// At most 5 bytes and at most 32 bits (see the contract). *out is widened to 64 bits so callers
// can compare it with remaining lengths without casts.
inline Status readVarint32(const uint8_t*& p, const uint8_t* end, uint64_t* out) {
  if (p < end && *p < 0x80) [[likely]] {
    *out = *p++;
    return Status::kOk;
  }
  return detail::readVarint32Slow(p, end, out);
}

// Reads a tag: *number is the field number (never 0 on kOk), *wire_type the low 3 bits.
inline Status readTag(const uint8_t*& p, const uint8_t* end, uint32_t* number,
                      uint32_t* wire_type) {
  uint64_t v;
  const Status s = readVarint32(p, end, &v);
  if (s != Status::kOk) [[unlikely]] {
    return s == Status::kTruncated ? s : Status::kBadTag;
  }
  *number = static_cast<uint32_t>(v >> 3);
  *wire_type = static_cast<uint32_t>(v & 7);
  return *number == 0 ? Status::kFieldZero : Status::kOk;
}

// Reads a length prefix and checks the payload fits: on kOk the payload is [p, p + *len).
inline Status readLength(const uint8_t*& p, const uint8_t* end, uint64_t* len) {
  const Status s = readVarint32(p, end, len);
  if (s != Status::kOk) [[unlikely]] {
    return s;
  }
  return *len > static_cast<uint64_t>(end - p) ? Status::kLengthPastEnd : Status::kOk;
}

inline Status readFixed32(const uint8_t*& p, const uint8_t* end, uint32_t* out) {
  if (end - p < 4) return Status::kTruncated;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  p += 4;
  *out = v;
  return Status::kOk;
}

inline Status readFixed64(const uint8_t*& p, const uint8_t* end, uint64_t* out) {
  if (end - p < 8) return Status::kTruncated;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  p += 8;
  *out = v;
  return Status::kOk;
}

// One field as readField() returns it.
struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t value = 0;      // kVarint, kI64 and kI32 (fixed values zero-extended)
  std::string_view bytes;  // kLen: the payload
  std::string_view whole;  // the field as it appeared, tag through the end of the value
};

// Reads the field starting at (*pos) of `msg` and advances *pos past it.
inline Status readField(std::string_view msg, size_t* pos, Field* f) {
  const auto* const base = reinterpret_cast<const uint8_t*>(msg.data());
  const uint8_t* const end = base + msg.size();
  const uint8_t* p = base + *pos;
  Status s = readTag(p, end, &f->number, &f->wire_type);
  if (s != Status::kOk) return s;
  f->value = 0;
  f->bytes = {};
  switch (f->wire_type) {
    case kVarint:
      s = readVarint(p, end, &f->value);
      break;
    case kI64:
      s = readFixed64(p, end, &f->value);
      break;
    case kI32: {
      uint32_t v = 0;
      s = readFixed32(p, end, &v);
      f->value = v;
      break;
    }
    case kLen: {
      uint64_t len = 0;
      s = readLength(p, end, &len);
      if (s == Status::kOk) {
        f->bytes = std::string_view(reinterpret_cast<const char*>(p), len);
        p += len;
      }
      break;
    }
    case kSGroup:
    case kEGroup:
      return Status::kGroup;
    default:
      return Status::kBadWireType;
  }
  if (s != Status::kOk) return s;
  const size_t next = static_cast<size_t>(p - base);
  f->whole = msg.substr(*pos, next - *pos);
  *pos = next;
  return Status::kOk;
}

// readVarint over a string_view with a position, for readers that index rather than walk.
inline Status readVarint(std::string_view s, size_t* pos, uint64_t* out) {
  const auto* const base = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* p = base + *pos;
  const Status st = readVarint(p, base + s.size(), out);
  if (st == Status::kOk) *pos = static_cast<size_t>(p - base);
  return st;
}

}  // namespace telegate::pdata::wire
