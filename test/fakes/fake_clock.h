// A steady clock that moves only when the test says so (header-only).
//
// Contract: now() starts at the time given (the real steady clock's now() by default) and moves
// only by advance(); it never goes backwards (advance() takes a non-negative duration).
// function() returns a std::function reading this clock, for code that accepts an injected
// `std::function<steady_clock::time_point()>`; the FakeClock must outlive every copy of it.
// Threading: now() and advance() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

namespace telegate::testing {

class FakeClock {
 public:
  using Clock = std::chrono::steady_clock;
  using time_point = Clock::time_point;
  using duration = Clock::duration;

  explicit FakeClock(time_point start = Clock::now()) : ticks_(start.time_since_epoch().count()) {}
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  time_point now() const { return time_point(duration(ticks_.load(std::memory_order_acquire))); }

  void advance(duration d) {
    if (d.count() > 0) ticks_.fetch_add(d.count(), std::memory_order_acq_rel);
  }

  std::function<time_point()> function() {
    return [this] { return now(); };
  }

 private:
  std::atomic<duration::rep> ticks_;
};

}  // namespace telegate::testing
