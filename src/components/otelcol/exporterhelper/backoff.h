// The backoff of the OTel Collector's retry_on_failure (cenkalti/backoff v4 ExponentialBackOff),
// as a configuration of the shared telegate::ExponentialBackoff (src/common/backoff.h).
//
// Contract: next() returns the wait before the next attempt: the current interval randomised
// uniformly within [interval * (1 - randomization_factor), interval * (1 + randomization_factor)]
// (factor clamped to [0, 1]), or the server's requested delay (Retry-After, RetryInfo) when that
// is longer; the interval then grows by `multiplier` up to `max_interval` (0 = no cap). It returns
// nullopt ("stop") when `elapsed` (time since the first attempt) plus that wait would exceed
// max_elapsed_time (0 = never stop). Not thread-safe: one Backoff per batch being retried.
#pragma once

#include <chrono>
#include <optional>

#include "src/common/backoff.h"
#include "src/components/otelcol/config.h"

namespace telegate::otelcol::exporterhelper {

// The shared backoff's settings for a retry_on_failure block.
BackoffPolicy retryPolicy(const RetryBlock& cfg);

class Backoff {
 public:
  explicit Backoff(const RetryBlock& cfg, ExponentialBackoff::Sources sources = {})
      : impl_(retryPolicy(cfg), std::move(sources)) {}
  std::optional<std::chrono::nanoseconds> next(
      std::chrono::nanoseconds elapsed,
      std::chrono::nanoseconds server_delay = std::chrono::nanoseconds(0)) {
    return impl_.nextAfter(elapsed, server_delay);
  }

 private:
  ExponentialBackoff impl_;
};

}  // namespace telegate::otelcol::exporterhelper
