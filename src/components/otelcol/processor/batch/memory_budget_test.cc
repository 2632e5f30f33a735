// otelcol.processor.batch charges pending payload bytes to globalMemoryBudget(): it refuses with
// RESOURCE_EXHAUSTED "memory limit reached" past its share (75 %) of the limit and releases every
// charged byte when the data is delivered (split or not) or dropped.
#include <gtest/gtest.h>

#include <mutex>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/common/memory_budget.h"
#include "src/components/otelcol/processor/batch/batch.h"
#include "src/components/otelcol/processor/batch/batch_testing.h"
#include "test/fakes/fake_host.h"

namespace telegate::otelcol::processor_batch {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace col_logs = opentelemetry::proto::collector::logs::v1;

class Host : public telegate::testing::FakeHost {
 public:
  Host() : telegate::testing::FakeHost("otelcol.processor.batch.m") {}
};

// Counts items; answers `answer_`.
class Sink : public Consumer {
 public:
  bool acceptsSignal(pdata::Signal) const override { return true; }
  absl::Status consume(pdata::Batch&& b) override {
    std::lock_guard<std::mutex> l(mu_);
    if (!answer_.ok()) return answer_;
    total_ += b.items;
    return absl::OkStatus();
  }
  void answer(absl::Status st) {
    std::lock_guard<std::mutex> l(mu_);
    answer_ = std::move(st);
  }
  uint64_t total() const {
    std::lock_guard<std::mutex> l(mu_);
    return total_;
  }

 private:
  mutable std::mutex mu_;
  absl::Status answer_;
  uint64_t total_ = 0;
};

using testing_support::logs;

Arguments args(std::shared_ptr<Consumer> out, int64_t size, int64_t max) {
  Arguments a;
  a.send_batch_size = size;
  a.send_batch_max_size = max;
  a.timeout = runtime::Duration(10s);
  a.output.logs.push_back({std::move(out)});
  return a;
}

// Sets the global limit for one test and restores it.
class BudgetScope {
 public:
  explicit BudgetScope(size_t extra) : was_(globalMemoryBudget().limit()) {
    base_ = globalMemoryBudget().used();
    globalMemoryBudget().setLimit(base_ + extra);
  }
  ~BudgetScope() { globalMemoryBudget().setLimit(was_); }
  size_t held() const { return globalMemoryBudget().used() - base_; }

 private:
  size_t was_;
  size_t base_;
};

TEST(BatchMemoryBudgetTest, RefusesPastItsShareAndReleasesOnDelivery) {
  const size_t p = logs(100).payload.size();
  BudgetScope budget(4 * p);  // the processor may hold 3 requests' worth (75 %)
  Host host;
  auto sink = std::make_shared<Sink>();
  Component c(host, args(sink, 2000, 3000));
  ASSERT_TRUE(c.start().ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.input()->consume(logs(100)).ok());
  EXPECT_EQ(budget.held(), 3 * p);
  auto st = c.input()->consume(logs(100));
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("memory limit reached"), std::string_view::npos) << st;
  EXPECT_EQ(budget.held(), 3 * p);
  EXPECT_NE(host.exposition().find("reason=\"memory_limit\"} 100"), std::string::npos)
      << host.exposition();
  c.shutdown(Clock::now() + 1s);  // flushes to the sink
  EXPECT_EQ(sink->total(), 300u);
  EXPECT_EQ(budget.held(), 0u);
}

TEST(BatchMemoryBudgetTest, SplitPiecesReleaseEverything) {
  BudgetScope budget(size_t{64} << 20);
  Host host;
  auto sink = std::make_shared<Sink>();
  Component c(host, args(sink, 100, 100));
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(c.input()->consume(logs(250)).ok());  // 100 + 100 sent, 50 kept
  EXPECT_EQ(sink->total(), 200u);
  EXPECT_GT(budget.held(), 0u);
  ASSERT_TRUE(c.input()->consume(logs(50)).ok());  // 100 pending: sent
  EXPECT_EQ(sink->total(), 300u);
  EXPECT_EQ(budget.held(), 0u);
  c.shutdown(Clock::now() + 1s);
  EXPECT_EQ(budget.held(), 0u);
}

TEST(BatchMemoryBudgetTest, DroppedDataIsReleased) {
  BudgetScope budget(size_t{64} << 20);
  Host host;
  auto sink = std::make_shared<Sink>();
  sink->answer(absl::UnavailableError("down"));
  Component c(host, args(sink, 100, 100));
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(c.input()->consume(logs(150)).ok());  // 100 fails and is kept for a retry
  ASSERT_TRUE(c.input()->consume(logs(10)).ok());
  EXPECT_GT(budget.held(), 0u);
  c.shutdown(Clock::now() + 50ms);  // never delivered: counted as dropped
  EXPECT_EQ(sink->total(), 0u);
  EXPECT_EQ(budget.held(), 0u);

  // A permanent error drops (and releases) at once.
  Host host2;
  auto bad = std::make_shared<Sink>();
  bad->answer(absl::InvalidArgumentError("bad"));
  Component c2(host2, args(bad, 100, 100));
  ASSERT_TRUE(c2.start().ok());
  ASSERT_TRUE(c2.input()->consume(logs(100)).ok());
  EXPECT_EQ(budget.held(), 0u);
  c2.shutdown(Clock::now() + 1s);
}

}  // namespace
}  // namespace telegate::otelcol::processor_batch
