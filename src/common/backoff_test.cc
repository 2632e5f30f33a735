#include "src/common/backoff.h"

#include <gtest/gtest.h>

#include <deque>
#include <vector>

namespace telegate {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;
using Clock = ExponentialBackoff::Clock;
using Jitter = BackoffPolicy::Jitter;
using ServerDelay = BackoffPolicy::ServerDelay;

// Deterministic sources: a clock moved by hand and a scripted sequence of uniform values.
struct FakeSources {
  Clock::time_point now{};
  int clock_reads = 0;
  std::deque<double> uniforms;
  int uniform_calls = 0;

  ExponentialBackoff::Sources sources() {
    return {.now =
                [this] {
                  ++clock_reads;
                  return now;
                },
            .uniform =
                [this] {
                  ++uniform_calls;
                  if (uniforms.empty()) return 0.5;
                  double u = uniforms.front();
                  uniforms.pop_front();
                  return u;
                }};
  }
};

BackoffPolicy plain(nanoseconds initial, nanoseconds max) {
  BackoffPolicy p;
  p.initial_interval = initial;
  p.max_interval = max;
  return p;
}

std::vector<nanoseconds> waits(ExponentialBackoff& b, int n, nanoseconds server = 0ns) {
  std::vector<nanoseconds> out;
  for (int i = 0; i < n; ++i) {
    auto w = b.next(server);
    if (!w) break;
    out.push_back(*w);
  }
  return out;
}

TEST(ExponentialBackoffTest, GrowsByMultiplierUpToMaxWithoutJitter) {
  FakeSources f;
  ExponentialBackoff b(plain(100ms, 1s), f.sources());
  EXPECT_EQ(waits(b, 6), (std::vector<nanoseconds>{100ms, 200ms, 400ms, 800ms, 1s, 1s}));
  EXPECT_EQ(f.uniform_calls, 0);  // no jitter: the random source is never used

  BackoffPolicy p = plain(1s, 3s);
  p.multiplier = 1.5;
  ExponentialBackoff c(p, f.sources());
  EXPECT_EQ(waits(c, 4), (std::vector<nanoseconds>{1s, 1500ms, 2250ms, 3s}));

  p.multiplier = 0.5;  // below 1: the interval never shrinks
  ExponentialBackoff d(p, f.sources());
  EXPECT_EQ(waits(d, 3), (std::vector<nanoseconds>{1s, 1s, 1s}));
}

TEST(ExponentialBackoffTest, InitialAboveMaxIsUsedOnceThenTheMax) {
  ExponentialBackoff b(plain(5s, 2s));
  EXPECT_EQ(waits(b, 3), (std::vector<nanoseconds>{5s, 2s, 2s}));
}

TEST(ExponentialBackoffTest, CenteredJitterSpansBothSidesOfTheInterval) {
  FakeSources f;
  f.uniforms = {0.0, 0.5, 0.75};
  BackoffPolicy p = plain(100ms, 10s);
  p.randomization_factor = 0.5;
  p.jitter = Jitter::kCentered;
  ExponentialBackoff b(p, f.sources());
  // intervals 100ms, 200ms, 400ms; factors 0.5, 1.0, 1.25
  EXPECT_EQ(waits(b, 3), (std::vector<nanoseconds>{50ms, 200ms, 500ms}));
  EXPECT_EQ(f.uniform_calls, 3);
}

TEST(ExponentialBackoffTest, AboveJitterOnlyLengthensAndCanBeCappedAtMax) {
  FakeSources f;
  f.uniforms = {0.0, 0.5, 0.75, 0.75};
  BackoffPolicy p = plain(100ms, 400ms);
  p.randomization_factor = 1;
  p.jitter = Jitter::kAbove;
  ExponentialBackoff b(p, f.sources());
  // intervals 100, 200, 400, 400 ms; factors 1, 1.5, 1.75, 1.75
  EXPECT_EQ(waits(b, 4), (std::vector<nanoseconds>{100ms, 300ms, 700ms, 700ms}));

  f.uniforms = {0.0, 0.5, 0.75, 0.75};
  p.cap_wait_at_max_interval = true;
  ExponentialBackoff c(p, f.sources());
  EXPECT_EQ(waits(c, 4), (std::vector<nanoseconds>{100ms, 300ms, 400ms, 400ms}));
}

TEST(ExponentialBackoffTest, WaitIsNeverNegative) {
  FakeSources f;
  f.uniforms = {0.0};
  BackoffPolicy p = plain(1s, 10s);
  p.randomization_factor = 2;  // factor 1 + 2 * (0 - 1) = -1
  ExponentialBackoff b(p, f.sources());
  EXPECT_EQ(b.next(), 0ns);

  ExponentialBackoff c(plain(-1s, 10s));  // a negative initial interval counts as zero
  EXPECT_EQ(waits(c, 2), (std::vector<nanoseconds>{0ns, 0ns}));
}

TEST(ExponentialBackoffTest, ServerDelayIgnoredAtLeastOrReplacing) {
  BackoffPolicy p = plain(1s, 8s);
  p.server_delay = ServerDelay::kIgnore;
  ExponentialBackoff ignore(p);
  EXPECT_EQ(waits(ignore, 2, 3s), (std::vector<nanoseconds>{1s, 2s}));

  p.server_delay = ServerDelay::kAtLeast;
  ExponentialBackoff at_least(p);
  EXPECT_EQ(waits(at_least, 4, 3s), (std::vector<nanoseconds>{3s, 3s, 4s, 8s}));

  p.server_delay = ServerDelay::kReplace;
  ExponentialBackoff replace(p);
  EXPECT_EQ(*replace.next(500ms), 500ms);  // shorter than the interval: still replaces it
  EXPECT_EQ(*replace.next(0ns), 2s);       // no server delay: the (grown) interval
  EXPECT_EQ(*replace.next(-1s), 4s);       // a non-positive delay means none
  EXPECT_EQ(*replace.next(1h), 1h);        // never capped at max_interval
  EXPECT_EQ(*replace.next(), 8s);
}

TEST(ExponentialBackoffTest, ServerDelayIsNotCappedWhenWaitsAre) {
  BackoffPolicy p = plain(1s, 2s);
  p.cap_wait_at_max_interval = true;
  p.server_delay = ServerDelay::kAtLeast;
  ExponentialBackoff b(p);
  EXPECT_EQ(*b.next(10s), 10s);
}

TEST(ExponentialBackoffTest, ZeroIntervalStepLetsAZeroIntervalGrow) {
  ExponentialBackoff stuck(plain(0ns, 5s));
  EXPECT_EQ(waits(stuck, 3), (std::vector<nanoseconds>{0ns, 0ns, 0ns}));

  BackoffPolicy p = plain(0ns, 5s);
  p.zero_interval_step = 1ms;
  ExponentialBackoff b(p);
  EXPECT_EQ(waits(b, 4), (std::vector<nanoseconds>{0ns, 1ms, 2ms, 4ms}));

  p = plain(10ms, 0ns);  // a zero maximum: the step is used after the first wait
  p.zero_interval_step = 1ms;
  ExponentialBackoff c(p);
  EXPECT_EQ(waits(c, 3), (std::vector<nanoseconds>{10ms, 1ms, 1ms}));
}

TEST(ExponentialBackoffTest, MaxAttemptsCountsTheFirstAttempt) {
  BackoffPolicy p = plain(10ms, 1s);
  p.max_attempts = 3;
  ExponentialBackoff b(p);
  EXPECT_EQ(waits(b, 10), (std::vector<nanoseconds>{10ms, 20ms}));
  EXPECT_FALSE(b.next());  // stays given up
  b.reset();
  EXPECT_EQ(waits(b, 10), (std::vector<nanoseconds>{10ms, 20ms}));

  p.max_attempts = 1;
  ExponentialBackoff once(p);
  EXPECT_FALSE(once.next());
}

TEST(ExponentialBackoffTest, MaxElapsedTimeUsesTheInjectedClock) {
  FakeSources f;
  f.now = Clock::time_point(1h);
  BackoffPolicy p = plain(1s, 1min);
  p.max_elapsed_time = 5s;
  ExponentialBackoff b(p, f.sources());
  EXPECT_EQ(b.next(), 1s);  // 0 + 1s <= 5s
  f.now += 1s;
  EXPECT_EQ(b.next(), 2s);  // 1s + 2s <= 5s
  f.now += 1s;
  EXPECT_FALSE(b.next());  // 2s + 4s > 5s

  b.reset();  // restarts the clock as well as the interval
  f.now += 1s;
  EXPECT_EQ(b.next(), 1s);
  f.now += 2s;
  EXPECT_EQ(b.next(), 2s);  // exactly at the limit: 3s + 2s == 5s is still allowed
}

TEST(ExponentialBackoffTest, MaxElapsedTimeCountsTheServerDelay) {
  BackoffPolicy p = plain(1s, 1min);
  p.max_elapsed_time = 5s;
  p.server_delay = ServerDelay::kAtLeast;
  ExponentialBackoff b(p);
  EXPECT_EQ(b.nextAfter(0s, 5s), 5s);
  EXPECT_FALSE(b.nextAfter(1s, 5s));
}

TEST(ExponentialBackoffTest, ClockIsReadOnlyForATimeLimit) {
  FakeSources f;
  ExponentialBackoff b(plain(1s, 1min), f.sources());
  waits(b, 3);
  b.reset();
  EXPECT_EQ(f.clock_reads, 0);

  BackoffPolicy p = plain(1s, 1min);
  p.max_elapsed_time = 1h;
  ExponentialBackoff c(p, f.sources());
  EXPECT_EQ(f.clock_reads, 1);
  ASSERT_TRUE(c.nextAfter(10min));  // the caller's elapsed time: the clock is not read
  EXPECT_EQ(f.clock_reads, 1);
  EXPECT_FALSE(c.nextAfter(59min + 59s));
  ASSERT_TRUE(c.next());
  EXPECT_EQ(f.clock_reads, 2);
}

TEST(ExponentialBackoffTest, HugeIntervalsSaturateInsteadOfOverflowing) {
  BackoffPolicy p = plain(nanoseconds::max() / 2, nanoseconds::max());
  p.randomization_factor = 0.5;
  p.max_elapsed_time = 1h;
  FakeSources f;
  f.uniforms = {0.99, 0.99, 0.99, 0.99};
  ExponentialBackoff b(p, f.sources());
  EXPECT_FALSE(b.next());  // a wait near nanoseconds::max() is past any limit
  p.max_elapsed_time = 0ns;
  ExponentialBackoff c(p, f.sources());
  EXPECT_GT(*c.next(), nanoseconds::max() / 2);
  EXPECT_EQ(c.next(), nanoseconds::max());  // the interval reached the maximum: saturates
  EXPECT_EQ(c.next(), nanoseconds::max());
}

TEST(ExponentialBackoffTest, DefaultRandomSourceStaysWithinTheJitterRange) {
  BackoffPolicy p = plain(1s, 1s);
  p.randomization_factor = 0.2;
  ExponentialBackoff b(p);
  bool varied = false;
  auto first = *b.next();
  for (int i = 0; i < 200; ++i) {
    auto w = *b.next();
    EXPECT_GE(w, 800ms);
    EXPECT_LT(w, 1200ms);
    varied = varied || w != first;
  }
  EXPECT_TRUE(varied);
}

}  // namespace
}  // namespace telegate
