#include "src/common/backoff.h"

#include <algorithm>
#include <random>

namespace telegate {
namespace {

using std::chrono::nanoseconds;

double uniformFromThreadGenerator() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

double initialNs(const BackoffPolicy& p) {
  return static_cast<double>(std::max<int64_t>(p.initial_interval.count(), 0));
}

// Whole nanoseconds of a non-negative double, saturating instead of overflowing.
nanoseconds toNs(double ns) {
  if (!(ns > 0)) return nanoseconds(0);
  if (ns >= static_cast<double>(nanoseconds::max().count())) return nanoseconds::max();
  return nanoseconds(static_cast<int64_t>(ns));
}

}  // namespace

ExponentialBackoff::ExponentialBackoff(const BackoffPolicy& policy, Sources sources)
    : policy_(policy), sources_(std::move(sources)), interval_ns_(initialNs(policy)) {
  if (!sources_.now) sources_.now = [] { return Clock::now(); };
  if (!sources_.uniform) sources_.uniform = uniformFromThreadGenerator;
  if (policy_.max_elapsed_time.count() > 0) start_ = sources_.now();
}

void ExponentialBackoff::reset() {
  interval_ns_ = initialNs(policy_);
  failures_ = 0;
  if (policy_.max_elapsed_time.count() > 0) start_ = sources_.now();
}

double ExponentialBackoff::jittered() const {
  const double f = policy_.randomization_factor;
  if (f == 0) return interval_ns_;
  const double u = sources_.uniform();
  const double factor =
      policy_.jitter == BackoffPolicy::Jitter::kCentered ? 1 + f * (2 * u - 1) : 1 + f * u;
  return interval_ns_ * factor;
}

std::optional<nanoseconds> ExponentialBackoff::next(nanoseconds server_delay) {
  if (policy_.max_elapsed_time.count() <= 0) return nextAfter(nanoseconds(0), server_delay);
  return nextAfter(sources_.now() - start_, server_delay);
}

std::optional<nanoseconds> ExponentialBackoff::nextAfter(nanoseconds elapsed,
                                                         nanoseconds server_delay) {
  ++failures_;
  nanoseconds wait = toNs(jittered());
  const nanoseconds max_interval = std::max(policy_.max_interval, nanoseconds(0));
  if (policy_.cap_wait_at_max_interval) wait = std::min(wait, max_interval);
  if (server_delay.count() > 0) {
    switch (policy_.server_delay) {
      case BackoffPolicy::ServerDelay::kIgnore:
        break;
      case BackoffPolicy::ServerDelay::kAtLeast:
        wait = std::max(wait, server_delay);
        break;
      case BackoffPolicy::ServerDelay::kReplace:
        wait = server_delay;
        break;
    }
  }

  const double grown = interval_ns_ * std::max(1.0, policy_.multiplier);
  interval_ns_ = std::min(grown, static_cast<double>(max_interval.count()));
  if (interval_ns_ <= 0 && policy_.zero_interval_step.count() > 0) {
    interval_ns_ = static_cast<double>(policy_.zero_interval_step.count());
  }

  if (policy_.max_attempts > 0 && failures_ >= policy_.max_attempts) return std::nullopt;
  const nanoseconds limit = policy_.max_elapsed_time;
  if (limit.count() > 0 && wait > limit - elapsed) return std::nullopt;  // elapsed + wait > limit
  return wait;
}

}  // namespace telegate
