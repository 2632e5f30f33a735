#include "src/components/otelcol/exporterhelper/exporter.h"

#include <gtest/gtest.h>

#include <deque>
#include <thread>

#include "src/components/otelcol/exporterhelper/backoff.h"
#include "test/fakes/wait.h"

namespace telegate::otelcol::exporterhelper {
namespace {

using ::telegate::testing::waitFor;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

pdata::Batch batch(uint64_t items, std::string tenant = "",
                   pdata::Signal s = pdata::Signal::kTraces) {
  pdata::Batch b;
  b.signal = s;
  b.payload = "payload-" + std::to_string(items);
  b.items = items;
  if (!tenant.empty()) {
    auto c = std::make_shared<pdata::ClientInfo>();
    c->tenant = tenant;
    b.client = c;
  }
  return b;
}

// A Sender answering from a script (the last entry repeats), recording attempts.
class ScriptedSender : public Sender {
 public:
  explicit ScriptedSender(std::vector<SendResult> script) : script_(std::move(script)) {}
  SendResult send(pdata::Batch& b, Clock::time_point) override {
    std::lock_guard<std::mutex> l(mu_);
    attempts_.push_back(Clock::now());
    payloads_.push_back(b.payload);
    SendResult r = script_[std::min(next_, script_.size() - 1)];
    ++next_;
    return r;
  }
  size_t attempts() {
    std::lock_guard<std::mutex> l(mu_);
    return attempts_.size();
  }
  std::vector<Clock::time_point> times() {
    std::lock_guard<std::mutex> l(mu_);
    return attempts_;
  }

 private:
  std::mutex mu_;
  std::vector<SendResult> script_;
  size_t next_ = 0;
  std::vector<Clock::time_point> attempts_;
  std::vector<std::string> payloads_;
};

SendResult ok() {
  return SendResult{};
}
SendResult retryable(std::chrono::nanoseconds after = 0ns) {
  SendResult r;
  r.status = absl::UnavailableError("backend down");
  r.retry_after = after;
  return r;
}
SendResult permanent() {
  SendResult r;
  r.status = absl::InvalidArgumentError("bad data");
  r.permanent = true;
  return r;
}

Settings fastSettings() {
  Settings s;
  s.queue.num_consumers = 2;
  s.queue.queue_size = 10;
  s.retry.initial_interval = runtime::Duration(5ms);
  s.retry.max_interval = runtime::Duration(20ms);
  s.retry.max_elapsed_time = runtime::Duration(2s);
  s.timeout = 1s;
  return s;
}

bool contains(const metrics::Registry& r, const std::string& needle) {
  return r.exposition().find(needle) != std::string::npos;
}

TEST(BackoffTest, GrowsWithJitterAndStops) {
  RetryBlock cfg;
  cfg.initial_interval = runtime::Duration(100ms);
  cfg.multiplier = 2;
  cfg.randomization_factor = 0.5;
  cfg.max_interval = runtime::Duration(300ms);
  cfg.max_elapsed_time = runtime::Duration(1s);
  Backoff b(cfg);
  auto w1 = b.next(0ns);
  ASSERT_TRUE(w1);
  EXPECT_GE(*w1, 50ms);
  EXPECT_LE(*w1, 151ms);
  auto w2 = b.next(0ns);
  EXPECT_GE(*w2, 100ms);
  EXPECT_LE(*w2, 301ms);
  for (int i = 0; i < 5; ++i) {
    auto w = b.next(0ns);
    ASSERT_TRUE(w);
    EXPECT_LE(*w, 451ms);  // capped at max_interval (+ jitter)
  }
  EXPECT_FALSE(b.next(900ms));  // 900ms + >=150ms exceeds max_elapsed_time
}

TEST(RequestHeadersTest, AddsTenantUnlessConfigured) {
  auto h = requestHeaders({{"Authorization", "x"}}, batch(1, "team-a"), false);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].first, "X-Scope-OrgID");
  EXPECT_EQ(h[1].second, "team-a");
  auto g = requestHeaders({{"X-Scope-OrgID", "fixed"}}, batch(1, "team-a"), true);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].first, "x-scope-orgid");
  EXPECT_EQ(g[0].second, "fixed");
  EXPECT_TRUE(requestHeaders({}, batch(1), false).empty());
}

TEST(ExporterTest, QueueFullRefusesWithResourceExhausted) {
  metrics::Registry reg;
  auto sender = std::make_shared<ScriptedSender>(std::vector<SendResult>{ok()});
  Settings s = fastSettings();
  s.queue.queue_size = 2;
  Exporter e("otelcol.exporter.otlp.t", s, sender, log::Logger(), reg);
  // Not started: nothing drains the queue.
  EXPECT_TRUE(e.consume(batch(1)).ok());
  EXPECT_TRUE(e.consume(batch(1)).ok());
  auto st = e.consume(batch(5));
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "sending queue is full");
  EXPECT_TRUE(contains(reg,
                       "telegate_exporter_enqueue_failed_items_total{component_id=\"otelcol."
                       "exporter.otlp.t\",signal=\"traces\"} 5"));
  EXPECT_TRUE(
      contains(reg, "telegate_exporter_queue_size{component_id=\"otelcol.exporter.otlp.t\"} 2"));
  EXPECT_TRUE(contains(
      reg, "telegate_exporter_queue_capacity{component_id=\"otelcol.exporter.otlp.t\"} 2"));
  e.start();
  ASSERT_TRUE(waitFor([&] { return sender->attempts() == 2; }));
  e.shutdown(Clock::now() + 1s);
  EXPECT_TRUE(contains(reg,
                       "telegate_exporter_sent_items_total{component_id=\"otelcol.exporter."
                       "otlp.t\",signal=\"traces\"} 2"));
}

TEST(ExporterTest, BlockOnOverflowWaitsThenRefuses) {
  metrics::Registry reg;
  auto sender = std::make_shared<ScriptedSender>(std::vector<SendResult>{ok()});
  Settings s = fastSettings();
  s.queue.queue_size = 1;
  s.queue.block_on_overflow = true;
  s.overflow_wait = 100ms;
  Exporter e("x", s, sender, log::Logger(), reg);
  EXPECT_TRUE(e.consume(batch(1)).ok());
  auto t0 = Clock::now();
  EXPECT_EQ(e.consume(batch(1)).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_GE(Clock::now() - t0, 90ms);
  // With a consumer running, a blocked consume() gets in once there is room.
  e.start();
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(e.consume(batch(1)).ok());
  e.shutdown(Clock::now() + 1s);
  EXPECT_EQ(sender->attempts(), 21u);
}

TEST(ExporterTest, RetriesRetryableFailuresThenDelivers) {
  metrics::Registry reg;
  auto sender =
      std::make_shared<ScriptedSender>(std::vector<SendResult>{retryable(), retryable(), ok()});
  Exporter e("x", fastSettings(), sender, log::Logger(), reg);
  e.start();
  ASSERT_TRUE(e.consume(batch(3)).ok());
  ASSERT_TRUE(waitFor([&] { return sender->attempts() == 3; }));
  e.shutdown(Clock::now() + 1s);
  EXPECT_TRUE(
      contains(reg, "telegate_exporter_sent_items_total{component_id=\"x\",signal=\"traces\"} 3"));
  EXPECT_TRUE(
      contains(reg, "telegate_exporter_retries_total{component_id=\"x\",signal=\"traces\"} 2"));
  EXPECT_TRUE(contains(
      reg, "telegate_exporter_send_seconds_count{component_id=\"x\",signal=\"traces\"} 3"));
}

TEST(ExporterTest, HonoursThrottleDelay) {
  metrics::Registry reg;
  auto sender = std::make_shared<ScriptedSender>(std::vector<SendResult>{retryable(300ms), ok()});
  Exporter e("x", fastSettings(), sender, log::Logger(), reg);
  e.start();
  ASSERT_TRUE(e.consume(batch(1)).ok());
  ASSERT_TRUE(waitFor([&] { return sender->attempts() == 2; }));
  auto t = sender->times();
  EXPECT_GE(t[1] - t[0], 290ms);
  e.shutdown(Clock::now() + 1s);
}

TEST(ExporterTest, PermanentFailureDropsAndCounts) {
  metrics::Registry reg;
  auto sender = std::make_shared<ScriptedSender>(std::vector<SendResult>{permanent()});
  Exporter e("x", fastSettings(), sender, log::Logger(), reg);
  e.start();
  ASSERT_TRUE(e.consume(batch(4, "", pdata::Signal::kMetrics)).ok());
  ASSERT_TRUE(waitFor([&] {
    return contains(reg,
                    "telegate_exporter_send_failed_items_total{component_id=\"x\",signal="
                    "\"metrics\",reason=\"permanent\"} 4");
  }));
  e.shutdown(Clock::now() + 1s);
  EXPECT_EQ(sender->attempts(), 1u);
}

TEST(ExporterTest, RetriesExhaustedDropsAndCounts) {
  metrics::Registry reg;
  auto sender = std::make_shared<ScriptedSender>(std::vector<SendResult>{retryable()});
  Settings s = fastSettings();
  s.retry.max_elapsed_time = runtime::Duration(150ms);
  Exporter e("x", s, sender, log::Logger(), reg);
  e.start();
  ASSERT_TRUE(e.consume(batch(2, "", pdata::Signal::kLogs)).ok());
  ASSERT_TRUE(waitFor([&] {
    return contains(reg,
                    "telegate_exporter_send_failed_items_total{component_id=\"x\",signal="
                    "\"logs\",reason=\"retries_exhausted\"} 2");
  }));
  EXPECT_GT(sender->attempts(), 2u);
  e.shutdown(Clock::now() + 1s);
}

TEST(ExporterTest, PartialSuccessCountsRejectedItems) {
  metrics::Registry reg;
  SendResult partial;
  partial.rejected_items = 2;
  partial.detail = "2 spans too old";
  auto sender = std::make_shared<ScriptedSender>(std::vector<SendResult>{partial});
  Exporter e("x", fastSettings(), sender, log::Logger(), reg);
  e.start();
  ASSERT_TRUE(e.consume(batch(5)).ok());
  e.shutdown(Clock::now() + 2s);
  EXPECT_TRUE(
      contains(reg, "telegate_exporter_sent_items_total{component_id=\"x\",signal=\"traces\"} 3"));
  EXPECT_TRUE(contains(reg,
                       "telegate_exporter_send_failed_items_total{component_id=\"x\",signal="
                       "\"traces\",reason=\"partial_success\"} 2"));
}

TEST(ExporterTest, ShutdownGivesOneMoreAttemptThenCountsTheRest) {
  metrics::Registry reg;
  auto sender = std::make_shared<ScriptedSender>(std::vector<SendResult>{retryable()});
  Settings s = fastSettings();
  s.queue.num_consumers = 1;
  s.retry.initial_interval = runtime::Duration(10s);  // parked in a long retry wait
  s.retry.max_interval = runtime::Duration(10s);
  s.retry.max_elapsed_time = runtime::Duration(60s);
  Exporter e("x", s, sender, log::Logger(), reg);
  e.start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(e.consume(batch(1)).ok());
  ASSERT_TRUE(waitFor([&] { return sender->attempts() == 1; }));
  auto t0 = Clock::now();
  e.shutdown(Clock::now() + 2s);
  EXPECT_LT(Clock::now() - t0, 2500ms);
  EXPECT_EQ(sender->attempts(), 4u);  // the waiting batch once more, the two queued once each
  EXPECT_TRUE(contains(reg,
                       "telegate_exporter_send_failed_items_total{component_id=\"x\",signal="
                       "\"traces\",reason=\"shutdown\"} 3"));
  EXPECT_EQ(e.consume(batch(1)).code(), absl::StatusCode::kUnavailable);
}

TEST(ExporterTest, ShutdownDeliversWhatIsQueued) {
  metrics::Registry reg;
  auto sender = std::make_shared<ScriptedSender>(std::vector<SendResult>{ok()});
  Exporter e("x", fastSettings(), sender, log::Logger(), reg);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(e.consume(batch(1)).ok());
  e.start();
  e.shutdown(Clock::now() + 2s);
  EXPECT_EQ(sender->attempts(), 5u);
  EXPECT_TRUE(
      contains(reg, "telegate_exporter_sent_items_total{component_id=\"x\",signal=\"traces\"} 5"));
}

TEST(ExporterTest, QueueDisabledSendsSynchronously) {
  metrics::Registry reg;
  auto sender = std::make_shared<ScriptedSender>(std::vector<SendResult>{retryable(), ok()});
  Settings s = fastSettings();
  s.queue.enabled = false;
  Exporter e("x", s, sender, log::Logger(), reg);
  e.start();
  EXPECT_TRUE(e.consume(batch(1)).ok());
  EXPECT_EQ(sender->attempts(), 2u);
  auto perm = std::make_shared<ScriptedSender>(std::vector<SendResult>{permanent()});
  e.update(s, perm);
  EXPECT_EQ(e.consume(batch(1)).code(), absl::StatusCode::kInvalidArgument);
  e.shutdown(Clock::now() + 1s);
}

}  // namespace
}  // namespace telegate::otelcol::exporterhelper
