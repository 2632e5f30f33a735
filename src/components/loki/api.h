// Loki entries and the receiver capsule exported by loki.write (`receiver`) and listed in
// `forward_to` of loki.source.* and otelcol.exporter.loki.
//
// Contract: push() takes ownership of the entries and returns OK once the receiver has accepted
// them (queued); RESOURCE_EXHAUSTED/UNAVAILABLE when it cannot accept now (the caller applies
// backpressure or retries). Labels are name/value pairs; names starting with "__" are internal
// (e.g. __tenant_id__) and never sent as stream labels. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "src/syntax/value.h"

namespace telegate::loki {

using LabelSet = std::vector<std::pair<std::string, std::string>>;  // sorted by name

struct Entry {
  LabelSet labels;
  int64_t timestamp_ns = 0;
  std::string line;
  LabelSet structured_metadata;
};

class LogsReceiver : public syntax::Capsule {
 public:
  static constexpr std::string_view kCapsuleType = "loki.LogsReceiver";
  std::string_view capsuleType() const override { return kCapsuleType; }
  virtual absl::Status push(std::vector<Entry>&& entries) = 0;
};

}  // namespace telegate::loki
