#include "src/components/otelcol/exporterhelper/backoff.h"

#include <gtest/gtest.h>

#include <deque>

namespace telegate::otelcol::exporterhelper {
namespace {

using namespace std::chrono_literals;

TEST(RetryPolicyTest, DefaultsAreTheCollectorsRetryOnFailure) {
  BackoffPolicy p = retryPolicy(RetryBlock{});
  EXPECT_EQ(p.initial_interval, 5s);
  EXPECT_EQ(p.max_interval, 30s);
  EXPECT_EQ(p.multiplier, 1.5);
  EXPECT_EQ(p.randomization_factor, 0.5);
  EXPECT_EQ(p.jitter, BackoffPolicy::Jitter::kCentered);
  EXPECT_FALSE(p.cap_wait_at_max_interval);
  EXPECT_EQ(p.server_delay, BackoffPolicy::ServerDelay::kAtLeast);
  EXPECT_EQ(p.max_attempts, 0);
  EXPECT_EQ(p.max_elapsed_time, 5min);
}

TEST(RetryPolicyTest, ZeroMaxIntervalMeansNoCapAndTheFactorIsClamped) {
  RetryBlock cfg;
  cfg.max_interval = runtime::Duration(0s);
  cfg.randomization_factor = 1.5;
  EXPECT_EQ(retryPolicy(cfg).max_interval, std::chrono::nanoseconds::max());
  EXPECT_EQ(retryPolicy(cfg).randomization_factor, 1.0);
  cfg.randomization_factor = -1;
  EXPECT_EQ(retryPolicy(cfg).randomization_factor, 0.0);
}

TEST(RetryPolicyTest, WaitsFollowTheIntervalJitterAndServerDelay) {
  std::deque<double> u = {0.0, 0.5, 0.999, 0.5, 0.5, 0.5};
  ExponentialBackoff::Sources sources{.now = {}, .uniform = [&u] {
                                        double v = u.front();
                                        u.pop_front();
                                        return v;
                                      }};
  Backoff b(RetryBlock{}, sources);
  EXPECT_EQ(b.next(0s), 2500ms);                // 5s * (1 - 0.5)
  EXPECT_EQ(b.next(0s), 7500ms);                // 7.5s * 1
  EXPECT_GT(*b.next(0s), 16800ms);              // 11.25s * 1.499, above the interval
  EXPECT_EQ(b.next(0s, 1min), 1min);            // the server asked for longer
  EXPECT_EQ(b.next(4min - 1s), 25312500000ns);  // 25.3125s fits before 5m
  EXPECT_FALSE(b.next(4min + 50s));             // 30s does not
}

}  // namespace
}  // namespace telegate::otelcol::exporterhelper
