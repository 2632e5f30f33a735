// The one exponential backoff of telegate: the wait between attempts of anything that retries
// (exporters, loki.write, prometheus.remote_write, the Kubernetes informers). Which failures are
// retried is the caller's policy; this class only says how long to wait and when to give up.
//
// Contract (ExponentialBackoff::next(server_delay), called once after each failed attempt):
//  1. The interval starts at initial_interval (negative = 0).
//  2. The wait is the interval with jitter: randomization_factor f and a uniform u in [0, 1) from
//     the random source give interval * (1 + f * (2u - 1)), i.e. [i(1-f), i(1+f)), for
//     Jitter::kCentered, and interval * (1 + f * u), i.e. [i, i(1+f)), for Jitter::kAbove.
//     f == 0 means no jitter (the random source is not called).
//  3. cap_wait_at_max_interval clamps that wait to max_interval (otherwise jitter may exceed it).
//  4. A server-requested delay (HTTP Retry-After, gRPC RetryInfo; <= 0 = none) is applied per
//     server_delay: kIgnore, kAtLeast (wait = max(wait, server delay)) or kReplace (wait = the
//     server delay). It is never capped.
//  5. The interval then grows: min(interval * multiplier, max_interval) (multiplier below 1 is
//     taken as 1; the default max_interval is "no cap"). A grown interval <= 0 becomes
//     zero_interval_step when that is > 0, so that a zero interval can still grow.
//  6. It returns nullopt ("give up", nothing waited) when this is failure number max_attempts
//     (max_attempts > 0 counts attempts including the first: 3 = wait twice, stop at the third
//     failure), or when max_elapsed_time > 0 and elapsed + the final wait would exceed it.
//     Otherwise the final wait, never negative.
//  reset() starts over (interval, attempt count, elapsed time); call it after a success when the
//  object is reused. elapsed is measured by the injected clock from construction or the last
//  reset() (the clock is read only when max_elapsed_time > 0); nextAfter() takes the caller's own
//  measure instead and does not read the clock.
// Threading: not thread-safe; one object per retry loop. The default random source is a
// thread-local generator (seeded once per thread), the default clock std::chrono::steady_clock.
//
// The users and what they configure (each keeps the semantics it had before this class):
//  * otelcol exporters (exporterhelper/backoff.h, retry_on_failure): initial_interval 5s,
//    multiplier 1.5 (validated >= 1), max_interval 30s (0 = no cap), randomization_factor 0.5
//    clamped to [0, 1], kCentered, no wait cap, max_elapsed_time 5m (0 = never give up),
//    server delay kAtLeast (Retry-After / RetryInfo), no attempt limit.
//  * loki.write (write.cc): initial min_backoff_period 500ms, multiplier 2, max_interval
//    max_backoff_period 5m, randomization_factor 1 kAbove (wait in [d, 2d)) capped at the max,
//    max_attempts max_backoff_retries 10 (<= 0 = no limit), Retry-After ignored, no time limit.
//  * prometheus.remote_write (remote_write.cc): initial min_backoff 30ms, multiplier 2,
//    max_interval max_backoff 5s, no jitter, server delay kReplace (Retry-After), no limits,
//    zero_interval_step 1ms.
//  * Kubernetes informers (k8s/backoff.h): initial min(backoff_initial 800ms, backoff_max),
//    multiplier 2, max_interval backoff_max 30s, randomization_factor 0.2 kCentered, no cap, no
//    limits, no server delay; waits are truncated to whole milliseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace telegate {

struct BackoffPolicy {
  enum class Jitter { kCentered, kAbove };
  enum class ServerDelay { kIgnore, kAtLeast, kReplace };

  std::chrono::nanoseconds initial_interval{std::chrono::milliseconds(500)};
  std::chrono::nanoseconds max_interval = std::chrono::nanoseconds::max();
  double multiplier = 2.0;
  double randomization_factor = 0.0;
  Jitter jitter = Jitter::kCentered;
  bool cap_wait_at_max_interval = false;
  ServerDelay server_delay = ServerDelay::kIgnore;
  std::chrono::nanoseconds zero_interval_step{0};
  int64_t max_attempts = 0;                      // 0 = no limit
  std::chrono::nanoseconds max_elapsed_time{0};  // 0 = no limit
};

class ExponentialBackoff {
 public:
  using Clock = std::chrono::steady_clock;
  // Sources of time and randomness; empty members take the defaults. `uniform` returns a value in
  // [0, 1).
  struct Sources {
    std::function<Clock::time_point()> now;
    std::function<double()> uniform;
  };

  explicit ExponentialBackoff(const BackoffPolicy& policy, Sources sources = {});

  // The wait before the next attempt, or nullopt to give up (see the contract above).
  std::optional<std::chrono::nanoseconds> next(
      std::chrono::nanoseconds server_delay = std::chrono::nanoseconds(0));
  // As next(), with `elapsed` (time since the first attempt) measured by the caller.
  std::optional<std::chrono::nanoseconds> nextAfter(
      std::chrono::nanoseconds elapsed,
      std::chrono::nanoseconds server_delay = std::chrono::nanoseconds(0));
  void reset();

  const BackoffPolicy& policy() const { return policy_; }

 private:
  double jittered() const;

  BackoffPolicy policy_;
  Sources sources_;
  double interval_ns_;
  int64_t failures_ = 0;
  Clock::time_point start_;
};

}  // namespace telegate
