// Cutting OTLP export requests into pieces of bounded item count, at the wire level.
//
// Contract (pure functions, thread-safe, no exceptions):
//   countItems() returns the number of items (spans, metric data points, log records) in the
//   protobuf wire bytes of an Export<Signal>ServiceRequest, walking tags and lengths only. For
//   input that pdata::checkAndCount() accepts it returns the same number; it does not validate
//   strings, ids or anything below the item level, so it is meant for data that was checked when
//   it entered the process. Malformed framing (bad varint, length past the end, groups) gives
//   INVALID_ARGUMENT.
//   splitRequest() cuts such a request into pieces holding at most `max_items` items each, filled
//   greedily in input order: every piece but the last holds exactly `max_items` items, the last
//   holds the rest (so 5000 items with max 3000 give 3000 + 2000). The pieces' items, concatenated,
//   are the input's items in the same order. Whole resources are copied byte for byte while they
//   fit; a resource (or scope) that must be cut is re-emitted in each piece it spans with all its
//   non-item fields (Resource, schema_url, InstrumentationScope, unknown fields) and the subset of
//   its items. A Metric whose data points must be cut is parsed into the generated protobuf class
//   and re-emitted with its name/description/unit/metadata, its data type's fields (temporality,
//   monotonicity) and a slice of its data points; this is the only decoding step and is rare.
//   Fields of the request itself other than the resource list (unknown fields) are repeated in
//   every piece. Zero-item resources, scopes and metrics stay in the piece where they occur.
//   With `max_items` == 0 or a request of at most `max_items` items, the result is one piece equal
//   to the input. An empty input gives no pieces.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/pdata/batch.h"

namespace telegate::pdata {

struct SplitPiece {
  std::string wire;  // protobuf wire bytes of an Export<Signal>ServiceRequest
  uint64_t items = 0;
};

absl::StatusOr<uint64_t> countItems(Signal signal, std::string_view wire);

absl::StatusOr<std::vector<SplitPiece>> splitRequest(Signal signal, std::string_view wire,
                                                     uint64_t max_items);

}  // namespace telegate::pdata
