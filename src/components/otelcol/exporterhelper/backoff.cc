#include "src/components/otelcol/exporterhelper/backoff.h"

#include <algorithm>

namespace telegate::otelcol::exporterhelper {

Backoff::Backoff(const RetryBlock& cfg)
    : cfg_(cfg),
      current_ns_(static_cast<double>(cfg.initial_interval.value.count())),
      rng_(std::random_device{}()) {}

std::optional<std::chrono::nanoseconds> Backoff::next(std::chrono::nanoseconds elapsed) {
  const double rf = std::clamp(cfg_.randomization_factor, 0.0, 1.0);
  const double delta = rf * current_ns_;
  const double lo = current_ns_ - delta, hi = current_ns_ + delta;
  const double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  auto wait = std::chrono::nanoseconds(static_cast<int64_t>(lo + r * (hi - lo + 1)));
  const double max_ns = static_cast<double>(cfg_.max_interval.value.count());
  current_ns_ = max_ns > 0 && current_ns_ * cfg_.multiplier >= max_ns
                    ? max_ns
                    : current_ns_ * std::max(1.0, cfg_.multiplier);
  if (cfg_.max_elapsed_time.value.count() > 0 && elapsed + wait > cfg_.max_elapsed_time.value) {
    return std::nullopt;
  }
  return wait;
}

}  // namespace telegate::otelcol::exporterhelper
