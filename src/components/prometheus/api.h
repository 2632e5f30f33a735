// Samples and the appendable capsule exported by prometheus.remote_write (`receiver`) and listed
// in `forward_to` of prometheus.scrape and otelcol.exporter.prometheus.
//
// Contract: append() takes ownership of the samples and returns OK once they are accepted
// (written to the queue); an error means nothing of this call was kept. Labels are sorted by name
// and include __name__. A NaN with the Prometheus stale bit pattern marks a series as stale.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "src/syntax/value.h"

namespace telegate::prometheus {

using Labels = std::vector<std::pair<std::string, std::string>>;  // sorted by name

struct Sample {
  Labels labels;
  int64_t timestamp_ms = 0;
  double value = 0;
};

class Appendable : public syntax::Capsule {
 public:
  static constexpr std::string_view kCapsuleType = "storage.Appendable";
  std::string_view capsuleType() const override { return kCapsuleType; }
  virtual absl::Status append(std::vector<Sample>&& samples) = 0;
};

}  // namespace telegate::prometheus
