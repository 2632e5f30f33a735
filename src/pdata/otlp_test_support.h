// Random OTLP export requests for the pdata tests (the differential tests against protobuf's parser
// in otlp_wire_test.cc, otlp_json_decode_test.cc and otlp_split_test.cc).
// Threading: each call uses only its arguments; `rng` is the caller's.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <memory>
#include <random>

#include "src/pdata/batch.h"

namespace telegate::pdata::test_support {

// An empty Export*ServiceRequest of signal `s`.
std::unique_ptr<google::protobuf::Message> newRequest(Signal s);
// A random request of signal `s`; `size` bounds repeated-field lengths (attributes, records,
// points).
std::unique_ptr<google::protobuf::Message> randomRequest(Signal s, std::mt19937_64& rng, int size);
// The items (spans, data points, log records) in request `m` of signal `s`.
uint64_t expectedItems(Signal s, const google::protobuf::Message& m);

}  // namespace telegate::pdata::test_support
