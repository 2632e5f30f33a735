// Tests for otelcol.processor.batch in front of durable outputs (pass-through: the answer waits
// for the output, nothing is held or dropped) and for the parallel shutdown flush (an output that
// keeps refusing does not take the time of the other tenants and signals).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/components/otelcol/processor/batch/batch.h"
#include "src/components/otelcol/processor/batch/batch_testing.h"
#include "src/components/otelcol/processor/batch/flush.h"
#include "test/fakes/fake_host.h"

namespace telegate::otelcol::processor_batch {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace col_logs = opentelemetry::proto::collector::logs::v1;

class Host : public telegate::testing::FakeHost {
 public:
  Host() : telegate::testing::FakeHost("otelcol.processor.batch.d") {}
};

// Records what it accepts; answers `answer` (per tenant when set) and says it is durable or not.
class Output : public Consumer {
 public:
  explicit Output(bool durable) : durable_(durable) {}
  bool acceptsSignal(pdata::Signal) const override { return true; }
  bool durable(pdata::Signal) const override { return durable_; }
  absl::Status consume(pdata::Batch&& b) override {
    std::lock_guard<std::mutex> l(mu_);
    const std::string tenant = b.client ? b.client->tenant : "";
    if (tenant == refuse_tenant_ || !answer_.ok()) {
      return answer_.ok() ? absl::ResourceExhaustedError("queue full") : answer_;
    }
    items_ += b.items;
    if (tenant == watch_tenant_ && first_at_ == Clock::time_point{}) first_at_ = Clock::now();
    return absl::OkStatus();
  }
  void answer(absl::Status st) {
    std::lock_guard<std::mutex> l(mu_);
    answer_ = std::move(st);
  }
  void refuseTenant(std::string t) {
    std::lock_guard<std::mutex> l(mu_);
    refuse_tenant_ = std::move(t);
  }
  void watchTenant(std::string t) {
    std::lock_guard<std::mutex> l(mu_);
    watch_tenant_ = std::move(t);
  }
  uint64_t items() const {
    std::lock_guard<std::mutex> l(mu_);
    return items_;
  }
  Clock::time_point firstAt() const {
    std::lock_guard<std::mutex> l(mu_);
    return first_at_;
  }

 private:
  const bool durable_;
  mutable std::mutex mu_;
  absl::Status answer_;
  std::string refuse_tenant_ = "\x01none";
  std::string watch_tenant_ = "\x01none";
  uint64_t items_ = 0;
  Clock::time_point first_at_{};
};

using testing_support::logs;

Arguments args(const std::vector<std::shared_ptr<Consumer>>& outs) {
  Arguments a;
  a.send_batch_size = 2000;
  a.send_batch_max_size = 3000;
  a.timeout = runtime::Duration(std::chrono::nanoseconds(10s));
  for (const auto& o : outs) a.output.logs.push_back({o});
  return a;
}

TEST(BatchDurableTest, DurableOutputGetsEachRequestBeforeTheAnswer) {
  Host host;
  auto out = std::make_shared<Output>(true);
  Component c(host, args({out}));
  ASSERT_TRUE(c.start().ok());
  EXPECT_TRUE(c.input()->durable(pdata::Signal::kLogs));
  EXPECT_FALSE(c.input()->durable(pdata::Signal::kTraces));  // no output for traces
  ASSERT_TRUE(c.input()->consume(logs(5, "t")).ok());
  EXPECT_EQ(out->items(), 5u);  // already there: nothing waits for the 10s timeout
  ASSERT_TRUE(c.input()->consume(logs(7, "t")).ok());
  EXPECT_EQ(out->items(), 12u);
  EXPECT_NE(host.exposition().find("trigger=\"pass_through\"} 2"), std::string::npos);
  c.shutdown(Clock::now() + 1s);
}

TEST(BatchDurableTest, RefusalGoesBackToTheClientAndNothingIsHeld) {
  Host host;
  auto out = std::make_shared<Output>(true);
  out->answer(absl::ResourceExhaustedError("sending queue is full"));
  Component c(host, args({out}));
  ASSERT_TRUE(c.start().ok());
  pdata::Batch b = logs(5, "t");
  const std::string before = b.payload;
  auto st = c.input()->consume(std::move(b));
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(b.payload, before);  // the caller still holds the batch (consumer.h)
  c.shutdown(Clock::now() + 200ms);
  const std::string m = host.exposition();
  EXPECT_EQ(m.find("reason=\"shutdown\""), std::string::npos) << m;
  EXPECT_NE(m.find("reason=\"output_refused\"} 5"), std::string::npos) << m;
}

TEST(BatchDurableTest, MixedOutputsKeepBatchingAndChainsCompose) {
  Host host;
  auto durable = std::make_shared<Output>(true);
  auto memory = std::make_shared<Output>(false);
  Component c(host, args({durable, memory}));
  ASSERT_TRUE(c.start().ok());
  EXPECT_FALSE(c.input()->durable(pdata::Signal::kLogs));
  ASSERT_TRUE(c.input()->consume(logs(5, "t")).ok());
  EXPECT_EQ(durable->items(), 0u);  // buffered until the timeout, as before
  c.shutdown(Clock::now() + 1s);
  EXPECT_EQ(durable->items(), 5u);
  EXPECT_EQ(memory->items(), 5u);

  // A batch processor in pass-through is itself durable: one in front of it passes through too.
  Host h1, h2;
  auto sink = std::make_shared<Output>(true);
  Component inner(h1, args({sink}));
  ASSERT_TRUE(inner.start().ok());
  Component outer(h2, args({inner.input()}));
  ASSERT_TRUE(outer.start().ok());
  EXPECT_TRUE(outer.input()->durable(pdata::Signal::kLogs));
  ASSERT_TRUE(outer.input()->consume(logs(3, "t")).ok());
  EXPECT_EQ(sink->items(), 3u);
  outer.shutdown(Clock::now() + 1s);
  inner.shutdown(Clock::now() + 1s);
}

TEST(BatchDurableTest, ShutdownFlushesTenantsInParallel) {
  Host host;
  auto out = std::make_shared<Output>(false);
  out->refuseTenant("a");  // tenant "a" (flushed first in order) is refused until the deadline
  out->watchTenant("b");
  Component c(host, args({out}));
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(c.input()->consume(logs(10, "a")).ok());
  ASSERT_TRUE(c.input()->consume(logs(20, "b")).ok());
  const auto start = Clock::now();
  c.shutdown(start + 2s);
  const auto took = Clock::now() - start;
  EXPECT_EQ(out->items(), 20u);
  ASSERT_NE(out->firstAt(), Clock::time_point{});
  EXPECT_LT(out->firstAt() - start, 500ms);  // not after "a" used up the deadline
  EXPECT_GE(took, 1500ms);                   // "a" was retried until the deadline
  EXPECT_LT(took, 3s);
  const std::string m = host.exposition();
  EXPECT_NE(m.find("reason=\"shutdown\"} 10"), std::string::npos) << m;
}

TEST(DrainInParallelTest, EveryBatcherIsTriedAndSlowOnesDoNotStarveOthers) {
  std::atomic<int> calls_slow{0};
  std::array<std::atomic<bool>, 20> tried{};
  const auto start = Clock::now();
  auto done = drainInParallel(
      20,
      [&](size_t i) {
        tried[i] = true;
        if (i == 0) {  // never done, and each try is slow
          ++calls_slow;
          std::this_thread::sleep_for(50ms);
          return false;
        }
        return true;
      },
      start + 400ms, 10ms);
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_FALSE(done[0]);
  for (size_t i = 1; i < 20; ++i) EXPECT_TRUE(done[i]) << i;
  EXPECT_GE(calls_slow.load(), 3);
  // A deadline in the past still gives each one try.
  auto late = drainInParallel(
      3, [](size_t) { return true; }, Clock::now() - 1s);
  EXPECT_EQ(late, std::vector<bool>({true, true, true}));
}

}  // namespace
}  // namespace telegate::otelcol::processor_batch
