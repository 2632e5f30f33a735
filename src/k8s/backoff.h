// Exponential backoff with jitter for reconnecting to the API server, as a configuration of the
// shared telegate::ExponentialBackoff (src/common/backoff.h).
//
// Contract: next() returns min(initial, max), then doubles up to max; each value is multiplied by
// a random factor in [1 - jitter, 1 + jitter) (never above max * (1 + jitter), never negative) and
// truncated to whole milliseconds. It never gives up. reset() starts over (call it after a
// success). Not thread-safe; one per retry loop.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

#include "src/common/backoff.h"

namespace telegate::k8s {

class Backoff {
 public:
  explicit Backoff(std::chrono::milliseconds initial = std::chrono::milliseconds(500),
                   std::chrono::milliseconds max = std::chrono::seconds(30), double jitter = 0.2,
                   uint64_t seed = std::random_device{}())
      : impl_(policy(initial, max, jitter), {.now = {}, .uniform = seededUniform(seed)}) {}

  std::chrono::milliseconds next() {
    // The policy sets no attempt or time limit, so there is always a wait.
    return std::chrono::duration_cast<std::chrono::milliseconds>(*impl_.next());
  }
  void reset() { impl_.reset(); }

 private:
  static BackoffPolicy policy(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                              double jitter) {
    BackoffPolicy p;
    p.initial_interval = std::min(initial, max);
    p.max_interval = max;
    p.multiplier = 2;
    p.randomization_factor = jitter;
    p.jitter = BackoffPolicy::Jitter::kCentered;
    return p;
  }
  static std::function<double()> seededUniform(uint64_t seed) {
    return [rng = std::mt19937_64(seed)]() mutable {
      return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    };
  }

  ExponentialBackoff impl_;
};

}  // namespace telegate::k8s
