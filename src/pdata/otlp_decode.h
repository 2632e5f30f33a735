// Decoding untrusted OTLP payloads into the wire form carried by pdata::Batch.
//
// Contract (both functions are pure, thread-safe, never throw, and are fuzzed):
//   checkAndCount() walks the protobuf wire bytes of an Export<Signal>ServiceRequest without
//   building message objects (and without allocating unless it fails): every tag, length and
//   nested message of the OTLP schema must be well formed, strings valid UTF-8, trace ids 0 or 16
//   bytes and span ids 0 or 8 bytes, and it returns the number of items (spans, metric data
//   points, log records) exactly as protobuf would see them (a later Metric.data member replaces
//   an earlier one). Unknown fields are skipped if well formed; a known field number with the
//   wrong wire type is an unknown field (as in protobuf). Malformed input returns
//   INVALID_ARGUMENT with a message naming what is wrong, the field path and the byte offset
//   (e.g. "invalid UTF-8 in string field in resource_logs.scope_logs.log_records.body.
//   string_value at byte offset 57").
//   Whatever it accepts, protobuf's ParseFromString() accepts too. It is stricter than protobuf
//   in these cases: id lengths (as the Go collector), groups (wire types 3/4) even in unknown
//   fields, varints whose 10th byte is > 1 and tags longer than 5 bytes. Message nesting is
//   limited to protobuf's default recursion limit (kMaxMessageDepth); as every AnyValue level
//   costs 2 (array) or 3 (kvlist) message levels, that binds before kMaxAnyValueDepth does: a
//   log body can nest 48 arrays.
//   otlpJsonToWire() decodes OTLP/JSON (the application/json body of OTLP/HTTP) into the same
//   protobuf wire bytes: lowerCamelCase or snake_case field names; trace/span ids as hex strings
//   (either case; empty string = absent); enums as integers or names; integers as JSON numbers or
//   decimal strings (range-checked, integral doubles like 1e3 accepted); doubles as numbers,
//   numeric strings or "NaN"/"Infinity"/"-Infinity"; bytes values as base64 (standard or URL-safe
//   alphabet, padding optional); null = absent (a null array element of a message list = an
//   empty message); unknown fields ignored (their values are still checked as JSON and may nest
//   up to json::kMaxJsonDepth = 1024 levels). Proto3 defaults are not encoded except for oneof
//   members and `optional` fields, so the bytes equal protobuf's own serialization of the same
//   message. The output is checked with checkAndCount(), so both entry points accept the same
//   wire messages. Returns the wire bytes and the item count, or INVALID_ARGUMENT naming the
//   problem and the JSON path (e.g. "expected a string at resourceLogs[0].scopeLogs[0].
//   logRecords[1].attributes[0].key"); malformed JSON gives "invalid JSON: <what> at byte offset
//   N". It decodes in one streaming pass without a DOM, so it stops at the first problem, JSON
//   or schema, and holds nothing per element (see kOtlpJsonWorkingMemoryFactor for its memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/pdata/batch.h"

namespace telegate::pdata {

absl::StatusOr<uint64_t> checkAndCount(Signal signal, std::string_view wire);

struct DecodedJson {
  std::string wire;
  uint64_t items = 0;
};
absl::StatusOr<DecodedJson> otlpJsonToWire(Signal signal, std::string_view json);

// Working memory of otlpJsonToWire(): the most it has allocated at any moment of one call, the
// returned wire string included, is at most otlpJsonWorkingMemory(json.size()) =
// kOtlpJsonWorkingMemoryFactor * size + kOtlpJsonWorkingMemoryOverhead (it does not count the
// body itself, which the caller holds). A caller that budgets memory can reserve that much before
// calling and release the difference to result.wire.capacity() after. The factor is set by the
// output alone: the wire form of a packed numeric array written as short JSON numbers is 4 times
// its JSON ("explicitBounds":[0,0,...]: 2 bytes -> 8); such outputs (larger than the body) are
// sized exactly by a counting pass before they are written. Real bodies need far less, as their
// wire form is smaller than the JSON: the output buffer is reserved at 0.75x the body (touched
// only as it is written), grown once to 1x when needed (1.75x during the copy), and copied to a
// right-sized string when less than half of it is used; a string value that has JSON escapes
// and is read rather than copied through (a number, id or base64 value) adds one unescaped copy
// of itself. Garbage such as {"resourceLogs":[0,0,...]} is refused at its first element.
inline constexpr size_t kOtlpJsonWorkingMemoryFactor = 4;
inline constexpr size_t kOtlpJsonWorkingMemoryOverhead = 64 << 10;
constexpr size_t otlpJsonWorkingMemory(size_t json_size) {
  return kOtlpJsonWorkingMemoryFactor * json_size + kOtlpJsonWorkingMemoryOverhead;
}

// Limits shared by both decoders. kMaxMessageDepth equals protobuf's default recursion limit, so
// whatever checkAndCount() accepts, protobuf's ParseFromString() accepts too (OTLP nests AnyValue
// through KeyValueList/KeyValue, i.e. up to 3 message levels per AnyValue level).
inline constexpr int kMaxMessageDepth = 100;
inline constexpr int kMaxAnyValueDepth = 64;

// The OTLP schema as data (tables in otlp_schema.cc), for the two decoders (otlp_wire.cc,
// otlp_json_decode.cc) and tests.
// Only the messages reachable from the three Export*ServiceRequest types are described.
namespace otlp_schema {

enum class Kind : uint8_t {
  kMessage,
  kString,   // proto3 string: must be valid UTF-8
  kBytes,    // base64 in JSON
  kTraceId,  // bytes, 0 or 16 long; hex in JSON
  kSpanId,   // bytes, 0 or 8 long; hex in JSON
  kBool,
  kEnum,
  kInt32,
  kSInt32,
  kUInt32,
  kInt64,
  kUInt64,
  kFixed32,
  kFixed64,
  kSFixed64,
  kDouble,
};

struct Message;

struct EnumValue {
  std::string_view name;
  int32_t number;
};
struct Enum {
  const EnumValue* values;
  uint32_t count;
};

struct Field {
  std::string_view name;       // proto (snake_case) name
  std::string_view json_name;  // lowerCamelCase
  uint32_t number;
  Kind kind;
  bool repeated = false;
  bool presence = false;             // oneof member or proto3 `optional`: encoded even when default
  const Message* message = nullptr;  // kMessage
  const Enum* enum_type = nullptr;   // kEnum
};

inline constexpr uint32_t kMaxFieldNumber = 16;

struct Message {
  std::string_view name;
  const Field* fields;
  uint32_t count;
  bool is_item = false;       // counted by checkAndCount (LogRecord, Span, *DataPoint)
  bool is_any_value = false;  // counts towards kMaxAnyValueDepth
  int8_t by_number[kMaxFieldNumber + 1] = {};  // index into fields, -1 if unknown
};

const Message& requestSchema(Signal signal);

}  // namespace otlp_schema

}  // namespace telegate::pdata
