// Exponential backoff with jitter for reconnecting to the API server.
//
// Contract: next() returns initial, then doubles up to max; each value is multiplied by a random
// factor in [1 - jitter, 1 + jitter] (never above max * (1 + jitter), never negative). reset()
// starts over (call it after a success). Not thread-safe; one per retry loop.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace telegate::k8s {

class Backoff {
 public:
  explicit Backoff(std::chrono::milliseconds initial = std::chrono::milliseconds(500),
                   std::chrono::milliseconds max = std::chrono::seconds(30), double jitter = 0.2,
                   uint64_t seed = std::random_device{}())
      : initial_(initial), max_(max), jitter_(jitter), rng_(seed) {}

  std::chrono::milliseconds next() {
    auto base = std::min(current_.count() == 0 ? initial_ : current_, max_);
    current_ = std::min(base * 2, max_);
    if (current_ < base) current_ = base;
    std::uniform_real_distribution<double> d(1.0 - jitter_, 1.0 + jitter_);
    double ms = static_cast<double>(base.count()) * d(rng_);
    return std::chrono::milliseconds(static_cast<int64_t>(ms < 0 ? 0 : ms));
  }
  void reset() { current_ = std::chrono::milliseconds(0); }

 private:
  std::chrono::milliseconds initial_, max_;
  std::chrono::milliseconds current_{0};
  double jitter_;
  std::mt19937_64 rng_;
};

}  // namespace telegate::k8s
