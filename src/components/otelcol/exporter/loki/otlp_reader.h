// The OTLP logs reader of otelcol.exporter.loki: an ExportLogsServiceRequest read straight from
// its protobuf wire bytes, without message objects.
//
// Contract:
//  * Tags, varints, lengths and fixed values are read with the shared codec (src/pdata/wire.h).
//  * Strings, bytes and the wire bytes of nested arrays and key/value lists are views into the
//    payload: the payload must outlive every AnyValue, AttrList, Scope and LogRecord read from it.
//  * Reader(check=true) (a client's payload) accepts only what it fully understands and checks:
//    well-formed tags, lengths and varints, valid UTF-8 in string fields, no group wire types, no
//    repeated occurrence of a singular message field (which protobuf would merge), AnyValue
//    nesting up to kMaxCheckedDepth. Anything else makes it return false; the caller then lets
//    protobuf decide and reads protobuf's own re-encoding with Reader(check=false), which trusts
//    UTF-8 and nested lists and allows kMaxDepth levels.
//  * RequestReader<Sink> walks ResourceLogs -> ScopeLogs -> LogRecord in wire order and hands
//    each to the sink; false as soon as the reader gives up (what the sink saw is to be
//    discarded).
//  * Header-only (the walk is inlined into the converter). Readers hold no mutable state and may
//    be shared between threads; a RequestReader is used by one thread.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "src/pdata/wire.h"

namespace telegate::otelcol::exporter_loki::detail {

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
inline constexpr int kMaxCheckedDepth = 20;
inline constexpr int kMaxDepth = 64;

// A cursor over one message on the shared codec (src/pdata/wire.h): false on anything
// malformed (varints over 10 bytes or 64 bits, tags and lengths over 5 bytes or 32 bits, field
// number 0, lengths past the end, groups and wire types 6/7).
class Wire {
 public:
  explicit Wire(std::string_view b)
      : p_(reinterpret_cast<const uint8_t*>(b.data())), end_(p_ + b.size()) {}
  bool done() const { return p_ >= end_; }

  bool varint(uint64_t* out) { return ok(pdata::wire::readVarint(p_, end_, out)); }
  bool tag(uint32_t* field, uint32_t* wire_type) {
    return ok(pdata::wire::readTag(p_, end_, field, wire_type));
  }
  bool bytes(std::string_view* out) {
    uint64_t n;
    if (!ok(pdata::wire::readLength(p_, end_, &n))) return false;
    *out = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  bool fixed64(uint64_t* out) { return ok(pdata::wire::readFixed64(p_, end_, out)); }
  bool fixed32(uint32_t* out) { return ok(pdata::wire::readFixed32(p_, end_, out)); }
  // Skips a field of an unknown number or an unexpected wire type (groups are left to protobuf).
  bool skip(uint32_t wire_type) {
    uint64_t v;
    std::string_view b;
    switch (wire_type) {
      case pdata::wire::kVarint:
        return varint(&v);
      case pdata::wire::kI64:
        return fixed64(&v);
      case pdata::wire::kLen:
        return bytes(&b);
      case pdata::wire::kI32: {
        uint32_t w;
        return fixed32(&w);
      }
      default:
        return false;
    }
  }

 private:
  static bool ok(pdata::wire::Status s) { return s == pdata::wire::Status::kOk; }
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
inline const Reader& trusted() {
  static const Reader r(false);
  return r;
}

// An ordered attribute map (pcommon.Map): keys keep their wire order; Get returns the first.
using AttrList = std::vector<std::pair<std::string_view, AnyValue>>;

inline AttrList toAttrList(std::string_view kvlist) {
  AttrList out;
  trusted().forEachKv(kvlist, 0,
                      [&](std::string_view k, const AnyValue& v) { out.emplace_back(k, v); });
  return out;
}

inline const AnyValue* getAttr(const AttrList& attrs, std::string_view key) {
  for (const auto& [k, v] : attrs) {
    if (k == key) return &v;
  }
  return nullptr;
}

inline void putAttr(AttrList& attrs, std::string_view key, const AnyValue& v) {
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

// Reads the ExportLogsServiceRequest in `payload` and feeds it to `conv`. False when the reader
// gives up (see "Wire reading"); what was converted until then is then to be discarded.
// Sink: AttrList& resourceAttributes(); void resource(); void scope(const Scope&);
//       AttrList& recordAttributes(); void record(const LogRecord&) -- called in that order for
//       every ResourceLogs / ScopeLogs / LogRecord, the lists filled before the call that uses
//       them.
template <class Sink>
class RequestReader {
 public:
  RequestReader(const Reader& reader, Sink* conv) : r_(reader), conv_(conv) {}

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
  Sink* conv_;
  std::vector<std::string_view> scopes_;
};

}  // namespace telegate::otelcol::exporter_loki::detail
