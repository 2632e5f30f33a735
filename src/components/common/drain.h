// Waiting with a shutdown deadline, shared by the senders of loki.write and
// prometheus.remote_write.
//
// Contract: a sender keeps `draining` and `deadline` under its own mutex (the one `lk` holds) and
// sets draining = true with a deadline when it is asked to stop. sleepOrGiveUp() waits up to `d`
// on `cv`, returning true when the time passed and false as soon as draining is set and the
// deadline has passed (the caller gives up and counts what is left). attemptDeadline() is the
// time by which an attempt starting now must end: max while not draining, the deadline while
// draining, nullopt once it has passed. The caller holds the mutex for both.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

namespace telegate::components {

using DrainClock = std::chrono::steady_clock;

inline bool sleepOrGiveUp(std::unique_lock<std::mutex>& lk, std::condition_variable& cv,
                          const bool& draining, const DrainClock::time_point& deadline,
                          std::chrono::nanoseconds d) {
  const auto until = DrainClock::now() + d;
  while (true) {
    const auto now = DrainClock::now();
    if (draining && now >= deadline) return false;
    if (now >= until) return true;
    cv.wait_until(lk, draining ? std::min(until, deadline) : until);
  }
}

inline std::optional<DrainClock::time_point> attemptDeadline(bool draining,
                                                             DrainClock::time_point deadline) {
  if (!draining) return DrainClock::time_point::max();
  if (DrainClock::now() >= deadline) return std::nullopt;
  return deadline;
}

}  // namespace telegate::components
