// Realistic, deterministic OTLP request payloads for benchmarks and load generators.
//
// Contract: each function returns the protobuf wire bytes of an Export*ServiceRequest holding
// exactly `items` items (log records, spans, metric data points), generated from `seed` (same
// seed, same bytes). Shapes follow what instrumented services typically send:
//   logs:    one resource (5 attributes), one scope; per record timestamps, severity, a ~100 B
//            body, 5 attributes, trace/span ids: about 360 B per record on the wire.
//   traces:  one resource, one scope; per span ids, name, kind, times, ~12 attributes, an event,
//            status, sometimes a link: about 800 B per span.
//   metrics: one resource, one scope; metrics of 10 points each (sums, gauges, a few
//            histograms), 5 attributes per point: about 196 B per point.
// Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>

#include "src/pdata/batch.h"

namespace telegate::bench {

std::string makeLogsRequest(int records, uint64_t seed);
std::string makeTracesRequest(int spans, uint64_t seed);
std::string makeMetricsRequest(int points, uint64_t seed);
std::string makeRequest(pdata::Signal signal, int items, uint64_t seed);

}  // namespace telegate::bench
