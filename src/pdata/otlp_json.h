// OTLP/JSON encoding of wire-format batches.
//
// Contract: toOtlpJson() renders the protobuf wire bytes of an Export<Signal>ServiceRequest as
// OTLP/JSON (the encoding OTLP/HTTP uses with application/json): lowerCamelCase field names,
// enums as integers, 64-bit integers as strings, trace/span ids as lowercase hex. Returns
// INVALID_ARGUMENT when the bytes are not a valid message of that type. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/pdata/batch.h"

namespace telegate::pdata {

absl::StatusOr<std::string> toOtlpJson(Signal signal, std::string_view wire);

// Rewrites base64 values of "traceId", "spanId" and "parentSpanId" keys in protobuf-generated
// JSON into lowercase hex (OTLP/JSON's id encoding). Exposed for tests.
std::string hexIdsInJson(std::string_view json);

}  // namespace telegate::pdata
