// Parser for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text (the bodies
// prometheus.scrape reads from targets).
//
// Contract: parseExposition() never throws and never crashes on any input (it is fuzzed). It
// appends one ParsedSample per sample line with the metric name, its labels sorted by name
// (escapes \\, \", \n resolved; duplicate label names rejected), the value (Go strconv rules:
// decimal, exponent, NaN, +Inf, -Inf) and the optional timestamp (milliseconds in 0.0.4, seconds
// with fraction in OpenMetrics). Metadata (# TYPE, # HELP, # UNIT) is collected per family.
// OpenMetrics exemplars (" # {...} v [ts]") are skipped; "# EOF" ends the body. A malformed line
// makes the whole parse fail with INVALID_ARGUMENT naming the line number (as Prometheus fails a
// scrape), leaving `out` with what was parsed before it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace telegate::prometheus {

struct ParsedSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by name, without __name__
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

struct FamilyMeta {
  std::string type;  // counter, gauge, histogram, summary, untyped, info, stateset, ...
  std::string help;
  std::string unit;
};

struct Exposition {
  std::vector<ParsedSample> samples;
  std::map<std::string, FamilyMeta> families;
};

enum class ExpositionFormat { kText004, kOpenMetrics };

// Picks the format from a Content-Type header (OpenMetrics for application/openmetrics-text).
ExpositionFormat formatFromContentType(std::string_view content_type);

absl::Status parseExposition(std::string_view body, ExpositionFormat format, Exposition* out);

}  // namespace telegate::prometheus
