// Exponential backoff with jitter, as the OTel Collector's retry_on_failure (cenkalti/backoff v4
// ExponentialBackOff).
//
// Contract: next() returns the wait before the next attempt: the current interval randomised
// uniformly within [interval * (1 - randomization_factor), interval * (1 + randomization_factor)];
// the interval then grows by `multiplier` up to `max_interval`. It returns nullopt ("stop") when
// `elapsed` (time since the first attempt) plus that wait would exceed max_elapsed_time
// (0 = never stop). Not thread-safe: one Backoff per batch being retried.
#pragma once

#include <chrono>
#include <optional>
#include <random>

#include "src/components/otelcol/config.h"

namespace telegate::otelcol::exporterhelper {

class Backoff {
 public:
  explicit Backoff(const RetryBlock& cfg);
  std::optional<std::chrono::nanoseconds> next(std::chrono::nanoseconds elapsed);

 private:
  RetryBlock cfg_;
  double current_ns_;
  std::minstd_rand rng_;
};

}  // namespace telegate::otelcol::exporterhelper
