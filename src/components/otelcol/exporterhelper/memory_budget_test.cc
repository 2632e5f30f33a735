// The exporter's in-memory sending queue charges the process memory budget: it refuses when the
// budget is exhausted, recovers once delivered batches are released, and releases every reserved
// byte exactly once on every path (delivery, permanent drop, shutdown, never popped).
#include <gtest/gtest.h>

#include <thread>

#include "src/common/memory_budget.h"
#include "src/components/otelcol/exporterhelper/exporter.h"
#include "src/components/otelcol/exporterhelper/queue.h"
#include "test/fakes/wait.h"

namespace telegate::otelcol::exporterhelper {
namespace {

using ::telegate::testing::waitFor;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

pdata::Batch batchOf(size_t bytes, uint64_t items = 1) {
  pdata::Batch b;
  b.signal = pdata::Signal::kLogs;
  b.payload.assign(bytes, 'x');
  b.items = items;
  return b;
}

// Answers from a fixed result; blocks while `hold` is set.
class GateSender : public Sender {
 public:
  explicit GateSender(SendResult r) : result_(std::move(r)) {}
  SendResult send(pdata::Batch&, Clock::time_point) override {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !hold_; });
    ++attempts_;
    return result_;
  }
  void hold(bool h) {
    {
      std::lock_guard<std::mutex> l(mu_);
      hold_ = h;
    }
    cv_.notify_all();
  }
  int attempts() {
    std::lock_guard<std::mutex> l(mu_);
    return attempts_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  int attempts_ = 0;
  SendResult result_;
};

Settings settings() {
  Settings s;
  s.queue.num_consumers = 1;
  s.queue.queue_size = 100;
  s.retry.enabled = false;
  s.timeout = 1s;
  return s;
}

TEST(MemoryBudgetExporterTest, RefusesWhenExhaustedAndRecoversAfterRelease) {
  MemoryBudget budget(1000);
  metrics::Registry reg;
  auto sender = std::make_shared<GateSender>(SendResult{});
  Exporter e("x", settings(), sender, log::Logger(), reg,
             std::make_unique<MemoryQueue>(100, &budget));
  // Not started: nothing drains the queue.
  EXPECT_TRUE(e.consume(batchOf(400)).ok());
  EXPECT_TRUE(e.consume(batchOf(400)).ok());
  EXPECT_EQ(budget.used(), 800u);
  auto st = e.consume(batchOf(400));
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "memory limit reached");
  EXPECT_EQ(budget.used(), 800u);  // a refusal reserves nothing
  EXPECT_EQ(budget.refusals(), 1u);
  EXPECT_TRUE(e.consume(batchOf(200)).ok());  // what fits is still taken
  EXPECT_EQ(budget.used(), 1000u);

  // A batch being sent stays charged until it is settled.
  sender->hold(true);
  e.start();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(budget.used(), 1000u);
  sender->hold(false);
  ASSERT_TRUE(waitFor([&] { return sender->attempts() == 3 && budget.used() == 0; }));
  EXPECT_TRUE(e.consume(batchOf(1000)).ok());  // recovered
  ASSERT_TRUE(waitFor([&] { return sender->attempts() == 4 && budget.used() == 0; }));
  e.shutdown(Clock::now() + 1s);
  EXPECT_EQ(budget.used(), 0u);
}

TEST(MemoryBudgetExporterTest, DroppedBatchesAreReleased) {
  MemoryBudget budget(10000);
  metrics::Registry reg;
  SendResult bad;
  bad.status = absl::InvalidArgumentError("bad data");
  bad.permanent = true;
  auto sender = std::make_shared<GateSender>(bad);
  Exporter e("x", settings(), sender, log::Logger(), reg,
             std::make_unique<MemoryQueue>(100, &budget));
  e.start();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(e.consume(batchOf(100)).ok());
  ASSERT_TRUE(waitFor([&] { return sender->attempts() == 5 && budget.used() == 0; }));
  e.shutdown(Clock::now() + 1s);
  EXPECT_EQ(budget.used(), 0u);
}

TEST(MemoryBudgetExporterTest, ShutdownDropsAreReleased) {
  MemoryBudget budget(10000);
  metrics::Registry reg;
  SendResult down;
  down.status = absl::UnavailableError("backend down");
  auto sender = std::make_shared<GateSender>(down);
  Settings s = settings();
  s.retry.enabled = true;
  s.retry.initial_interval = runtime::Duration(5ms);
  s.retry.max_interval = runtime::Duration(10ms);
  s.retry.max_elapsed_time = runtime::Duration(60s);
  Exporter e("x", s, sender, log::Logger(), reg, std::make_unique<MemoryQueue>(100, &budget));
  e.start();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(e.consume(batchOf(100)).ok());
  ASSERT_TRUE(waitFor([&] { return sender->attempts() >= 2; }));
  EXPECT_EQ(budget.used(), 500u);
  e.shutdown(Clock::now() + 50ms);
  EXPECT_EQ(budget.used(), 0u);
}

TEST(MemoryBudgetExporterTest, QueueReleasesWhatWasNeverPoppedOrSettled) {
  MemoryBudget budget(1000);
  {
    MemoryQueue q(10, &budget);
    ASSERT_TRUE(q.push(batchOf(100), Clock::time_point::min()).ok());
    ASSERT_TRUE(q.push(batchOf(200), Clock::time_point::min()).ok());
    ASSERT_TRUE(q.push(batchOf(300), Clock::time_point::min()).ok());
    auto a = q.pop(false);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(budget.used(), 600u);  // popped but not settled: still held
    q.ack(a->id);
    q.ack(a->id);  // settling twice releases once
    EXPECT_EQ(budget.used(), 500u);
    EXPECT_EQ(q.chargedBytes(), 500u);
    auto b = q.pop(false);
    ASSERT_TRUE(b.has_value());
    q.nack(b->id);
    EXPECT_EQ(budget.used(), 300u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST(MemoryBudgetExporterTest, DefaultQueueChargesTheGlobalBudget) {
  MemoryBudget& g = globalMemoryBudget();
  const size_t was_limit = g.limit();
  const size_t base = g.used();
  g.setLimit(base + 100);
  {
    metrics::Registry reg;
    auto sender = std::make_shared<GateSender>(SendResult{});
    Exporter e("x", settings(), sender, log::Logger(), reg);
    EXPECT_TRUE(e.consume(batchOf(100)).ok());
    EXPECT_EQ(e.consume(batchOf(1)).code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(g.used(), base + 100);
    e.start();
    e.shutdown(Clock::now() + 1s);
    EXPECT_EQ(g.used(), base);
  }
  g.setLimit(was_limit);
}

}  // namespace
}  // namespace telegate::otelcol::exporterhelper
