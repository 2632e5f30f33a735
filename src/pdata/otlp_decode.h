// Decoding untrusted OTLP payloads into the wire form carried by pdata::Batch.
//
// Contract (both functions are pure, thread-safe, never throw, and are fuzzed):
//   checkAndCount() walks the protobuf wire bytes of an Export<Signal>ServiceRequest without
//   building message objects: every tag, length and nested message of the OTLP schema must be
//   well formed, strings valid UTF-8, and it returns the number of items (spans, metric data
//   points, log records). Unknown fields are skipped if well formed. Malformed input returns
//   INVALID_ARGUMENT with a message naming what is wrong (e.g. "truncated length-delimited field
//   in resource_logs"). Nesting deeper than 64 levels (AnyValue) is rejected.
//   otlpJsonToWire() decodes OTLP/JSON (the application/json body of OTLP/HTTP) into the same
//   protobuf wire bytes: lowerCamelCase or snake_case field names; trace/span ids as hex strings
//   (empty string = absent); enums as integers or names; 64-bit integers as strings or numbers;
//   unknown fields ignored; bytes values as base64. Returns the wire bytes and the item count, or
//   INVALID_ARGUMENT naming the problem.
#pragma once

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

}  // namespace telegate::pdata
