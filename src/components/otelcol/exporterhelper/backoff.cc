#include "src/components/otelcol/exporterhelper/backoff.h"

#include <algorithm>

namespace telegate::otelcol::exporterhelper {

BackoffPolicy retryPolicy(const RetryBlock& cfg) {
  BackoffPolicy p;
  p.initial_interval = cfg.initial_interval.value;
  p.max_interval =
      cfg.max_interval.value.count() > 0 ? cfg.max_interval.value : std::chrono::nanoseconds::max();
  p.multiplier = cfg.multiplier;
  p.randomization_factor = std::clamp(cfg.randomization_factor, 0.0, 1.0);
  p.jitter = BackoffPolicy::Jitter::kCentered;
  p.cap_wait_at_max_interval = false;
  p.server_delay = BackoffPolicy::ServerDelay::kAtLeast;
  p.max_attempts = 0;
  p.max_elapsed_time = cfg.max_elapsed_time.value;
  return p;
}

}  // namespace telegate::otelcol::exporterhelper
