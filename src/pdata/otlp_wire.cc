// checkAndCount(): a schema-aware protobuf wire-format walker for OTLP export requests, over the
// schema tables in otlp_schema.cc and the wire codec in wire.h.
//
// The walker never allocates on success. It follows protobuf's parsing semantics wherever they
// decide what a downstream ParseFromString() sees: a known field number with a mismatched wire type
// is an unknown field (skipped), repeated scalars may be packed or not, a later member of a oneof
// clears the earlier one (so Metric.data counts only the points of the surviving member), and
// repeated occurrences of a singular message field merge. It is stricter than protobuf in a few
// places (groups, over-long varints, trace/span id lengths); see otlp_decode.h.
#include <simdjson.h>

#include <cstring>

#include "src/common/strings.h"
#include "src/pdata/otlp_decode.h"
#include "src/pdata/wire.h"

namespace telegate::pdata {

// ---------------------------------------------------------------------------------------------
// The walker.
namespace {

using otlp_schema::Field;
using otlp_schema::Kind;
using otlp_schema::Message;

using wire::kEGroup;
using wire::kI32;
using wire::kI64;
using wire::kLen;
using wire::kSGroup;
using wire::kVarint;

#if defined(__GNUC__)
#define TG_LIKELY(x) __builtin_expect(!!(x), 1)
#define TG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define TG_LIKELY(x) (x)
#define TG_UNLIKELY(x) (x)
#endif

// True if [p, p+n) is valid UTF-8. ASCII (the common case) is checked inline 8 bytes at a time;
// anything else goes to simdjson's validator.
inline bool validUtf8(const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ULL) {
      return simdjson::validate_utf8(reinterpret_cast<const char*>(p + i), n - i);
    }
  }
  for (; i < n; ++i) {
    if (p[i] & 0x80) return simdjson::validate_utf8(reinterpret_cast<const char*>(p + i), n - i);
  }
  return true;
}

class Walker {
 public:
  explicit Walker(const uint8_t* base) : base_(base) {}

  // Walks the message `m` occupying [p, end). `depth` is the nesting depth of `m` (the request
  // is 0), `any_depth` the number of AnyValue levels including `m`. Adds the items found to
  // *items.
  bool walk(const Message& m, const uint8_t* p, const uint8_t* end, int depth, int any_depth,
            uint64_t* items);

  absl::Status error() const {
    std::string path;
    for (int i = path_len_ - 1; i >= 0; --i) {
      if (!path.empty()) path.push_back('.');
      path.append(path_[i].data(), path_[i].size());
    }
    std::string msg = problem_;
    if (detail_ >= 0) strAppend(&msg, " (", detail_, ")");
    strAppend(&msg, " in ", path.empty() ? std::string("request") : path, " at byte offset ",
              static_cast<uint64_t>(at_ - base_));
    return absl::InvalidArgumentError(msg);
  }

 private:
  bool fail(const char* problem, const uint8_t* at, int64_t detail = -1) {
    problem_ = problem;
    at_ = at;
    detail_ = detail;
    return false;
  }
  // Records that the failure happened inside `field` (called while unwinding).
  bool in(std::string_view field) {
    if (path_len_ < kMaxPath) path_[path_len_++] = field;
    return false;
  }

  // The wire codec's readers, with failures recorded in the walker's words.
  bool readVarint(const uint8_t*& p, const uint8_t* end, uint64_t* out) {
    const uint8_t* at = p;
    const wire::Status s = wire::readVarint(p, end, out);
    if (TG_LIKELY(s == wire::Status::kOk)) return true;
    return fail(s == wire::Status::kTruncated ? "truncated varint" : "varint overflows 64 bits",
                at);
  }
  bool readTag(const uint8_t*& p, const uint8_t* end, uint32_t* number, uint32_t* wire_type) {
    const uint8_t* at = p;
    const wire::Status s = wire::readTag(p, end, number, wire_type);
    if (TG_LIKELY(s == wire::Status::kOk)) return true;
    return fail(s == wire::Status::kTruncated   ? "truncated tag"
                : s == wire::Status::kFieldZero ? "invalid field number 0"
                                                : "invalid tag",
                at);
  }
  // Reads a length prefix and checks the payload fits; on success [p, *sub_end) is the payload.
  // Like protobuf's ReadSize(), the prefix may take at most 5 bytes (the value is < 2 GiB anyway).
  bool readLen(const uint8_t*& p, const uint8_t* end, const uint8_t** sub_end) {
    const uint8_t* at = p;
    uint64_t len;
    const wire::Status s = wire::readLength(p, end, &len);
    if (TG_LIKELY(s == wire::Status::kOk)) {
      *sub_end = p + len;
      return true;
    }
    return fail(s == wire::Status::kTruncated ? "truncated length"
                : s == wire::Status::kTooLong ? "length prefix longer than 5 bytes"
                                              : "length-delimited field extends past the end "
                                                "of its message",
                at);
  }
  bool skipUnknown(uint32_t wire_type, const uint8_t*& p, const uint8_t* end, const uint8_t* at);
  bool packed(Kind kind, const uint8_t* p, const uint8_t* end);

  static constexpr int kMaxPath = kMaxMessageDepth + 2;
  const uint8_t* base_;
  const char* problem_ = "";
  const uint8_t* at_ = nullptr;
  int64_t detail_ = -1;
  std::string_view path_[kMaxPath];
  int path_len_ = 0;
};

bool Walker::skipUnknown(uint32_t wire_type, const uint8_t*& p, const uint8_t* end,
                         const uint8_t* at) {
  switch (wire_type) {
    case kVarint: {
      uint64_t v;
      return readVarint(p, end, &v);
    }
    case kI64:
      if (TG_UNLIKELY(end - p < 8)) return fail("truncated fixed64 field", at);
      p += 8;
      return true;
    case kI32:
      if (TG_UNLIKELY(end - p < 4)) return fail("truncated fixed32 field", at);
      p += 4;
      return true;
    case kLen: {
      const uint8_t* sub_end;
      if (!readLen(p, end, &sub_end)) return false;
      p = sub_end;
      return true;
    }
    case kSGroup:
    case kEGroup:
      return fail("group wire type is not supported", at);
    default:
      return fail("invalid wire type", at, wire_type);
  }
}

bool Walker::packed(Kind kind, const uint8_t* p, const uint8_t* end) {
  switch (kind) {
    case Kind::kFixed32:
      if ((end - p) % 4 != 0) return fail("packed fixed32 field length is not a multiple of 4", p);
      return true;
    case Kind::kFixed64:
    case Kind::kSFixed64:
    case Kind::kDouble:
      if ((end - p) % 8 != 0) return fail("packed fixed64 field length is not a multiple of 8", p);
      return true;
    default:  // varint kinds
      while (p < end) {
        uint64_t v;
        if (!readVarint(p, end, &v)) return false;
      }
      return true;
  }
}

bool Walker::walk(const Message& m, const uint8_t* p, const uint8_t* end, int depth, int any_depth,
                  uint64_t* items) {
  uint64_t plain = m.is_item ? 1 : 0;
  uint64_t oneof_items = 0;  // items under the current member of the (single) message oneof
  uint32_t oneof_member = 0;
  while (p < end) {
    const uint8_t* at = p;
    uint32_t number;
    uint32_t wire_type;
    if (!readTag(p, end, &number, &wire_type)) return false;
    int idx = number <= otlp_schema::kMaxFieldNumber ? m.by_number[number] : -1;
    if (idx >= 0) {
      const Field& f = m.fields[idx];
      switch (f.kind) {
        case Kind::kMessage: {
          if (wire_type != kLen) break;
          const uint8_t* sub_end;
          if (!readLen(p, end, &sub_end)) return in(f.name);
          if (TG_UNLIKELY(depth >= kMaxMessageDepth)) {
            return fail("message nesting too deep", at, kMaxMessageDepth), in(f.name);
          }
          const int sub_any = any_depth + (f.message->is_any_value ? 1 : 0);
          if (TG_UNLIKELY(sub_any > kMaxAnyValueDepth)) {
            return fail("AnyValue nesting too deep", at, kMaxAnyValueDepth), in(f.name);
          }
          uint64_t n = 0;
          if (!walk(*f.message, p, sub_end, depth + 1, sub_any, &n)) return in(f.name);
          p = sub_end;
          if (f.presence) {  // oneof member: a different member replaces the earlier one
            if (f.number != oneof_member) {
              oneof_member = f.number;
              oneof_items = 0;
            }
            oneof_items += n;
          } else {
            plain += n;
          }
          continue;
        }
        case Kind::kString: {
          if (wire_type != kLen) break;
          const uint8_t* sub_end;
          if (!readLen(p, end, &sub_end)) return in(f.name);
          if (TG_UNLIKELY(!validUtf8(p, static_cast<size_t>(sub_end - p)))) {
            return fail("invalid UTF-8 in string field", at), in(f.name);
          }
          p = sub_end;
          continue;
        }
        case Kind::kBytes: {
          if (wire_type != kLen) break;
          const uint8_t* sub_end;
          if (!readLen(p, end, &sub_end)) return in(f.name);
          p = sub_end;
          continue;
        }
        case Kind::kTraceId:
        case Kind::kSpanId: {
          if (wire_type != kLen) break;
          const uint8_t* sub_end;
          if (!readLen(p, end, &sub_end)) return in(f.name);
          const size_t want = f.kind == Kind::kTraceId ? 16 : 8;
          const size_t len = static_cast<size_t>(sub_end - p);
          if (TG_UNLIKELY(len != 0 && len != want)) {
            return fail("invalid length for ID", at, static_cast<int64_t>(len)), in(f.name);
          }
          p = sub_end;
          continue;
        }
        case Kind::kBool:
        case Kind::kEnum:
        case Kind::kInt32:
        case Kind::kSInt32:
        case Kind::kUInt32:
        case Kind::kInt64:
        case Kind::kUInt64: {
          if (wire_type == kVarint) {
            uint64_t v;
            if (!readVarint(p, end, &v)) return in(f.name);
            continue;
          }
          break;
        }
        case Kind::kFixed32:
          if (wire_type == kI32) {
            if (TG_UNLIKELY(end - p < 4)) return fail("truncated fixed32 field", at), in(f.name);
            p += 4;
            continue;
          }
          break;
        case Kind::kFixed64:
        case Kind::kSFixed64:
        case Kind::kDouble:
          if (wire_type == kI64) {
            if (TG_UNLIKELY(end - p < 8)) return fail("truncated fixed64 field", at), in(f.name);
            p += 8;
            continue;
          }
          break;
      }
      // Packed encoding of a repeated scalar.
      if (f.repeated && wire_type == kLen && f.kind != Kind::kMessage && f.kind != Kind::kString) {
        const uint8_t* sub_end;
        if (!readLen(p, end, &sub_end)) return in(f.name);
        if (!packed(f.kind, p, sub_end)) return in(f.name);
        p = sub_end;
        continue;
      }
      // Otherwise a known number with a mismatched wire type: protobuf treats it as unknown.
    }
    if (!skipUnknown(wire_type, p, end, at)) return false;
  }
  *items += plain + oneof_items;
  return true;
}

}  // namespace

absl::StatusOr<uint64_t> checkAndCount(Signal signal, std::string_view wire) {
  const auto* p = reinterpret_cast<const uint8_t*>(wire.data());
  if (wire.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError("request larger than 2 GiB");
  }
  Walker w(p);
  uint64_t items = 0;
  if (!w.walk(otlp_schema::requestSchema(signal), p, p + wire.size(), 0, 0, &items)) {
    return w.error();
  }
  return items;
}

}  // namespace telegate::pdata
