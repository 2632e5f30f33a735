// Tests for otelcol.processor.batch: size and timeout triggers, per-tenant batching, cutting
// inside a resource, shutdown flush, retry and refusal when outputs fail, drops counted, and no
// loss with concurrent producers. Outputs are recording consumers.
#include "src/components/otelcol/processor/batch/batch.h"
#include "src/components/otelcol/processor/batch/batch_testing.h"
#include "test/fakes/fake_host.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/pdata/otlp_decode.h"
#include "test/fakes/wait.h"

namespace telegate::otelcol::processor_batch {
namespace {

using ::telegate::testing::waitFor;

using namespace std::chrono_literals;
namespace col_logs = opentelemetry::proto::collector::logs::v1;

class FakeHost : public telegate::testing::FakeHost {
 public:
  FakeHost() : telegate::testing::FakeHost("otelcol.processor.batch.t") {}
};

struct Received {
  uint64_t items = 0;
  std::string tenant;
  std::string payload;
  const char* data = nullptr;  // where the payload's bytes were when consume() got them
};

class Recorder : public Consumer {
 public:
  bool acceptsSignal(pdata::Signal) const override { return true; }
  absl::Status consume(pdata::Batch&& b) override {
    std::lock_guard<std::mutex> l(mu_);
    ++calls_;
    if (!answer_.ok()) return answer_;
    auto n = pdata::checkAndCount(b.signal, b.payload);
    EXPECT_TRUE(n.ok()) << n.status();
    if (n.ok()) {
      EXPECT_EQ(*n, b.items);
    }
    const char* data = b.payload.data();
    received_.push_back({b.items, b.client ? b.client->tenant : "", std::move(b.payload), data});
    total_ += b.items;
    return absl::OkStatus();
  }
  void answer(absl::Status st) {
    std::lock_guard<std::mutex> l(mu_);
    answer_ = std::move(st);
  }
  std::vector<Received> received() const {
    std::lock_guard<std::mutex> l(mu_);
    return received_;
  }
  std::vector<uint64_t> sizes() const {
    std::vector<uint64_t> out;
    for (const auto& r : received()) out.push_back(r.items);
    return out;
  }
  uint64_t total() const {
    std::lock_guard<std::mutex> l(mu_);
    return total_;
  }
  int calls() const {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  absl::Status answer_;
  std::vector<Received> received_;
  uint64_t total_ = 0;
  int calls_ = 0;
};

using testing_support::logs;

Arguments args(const std::vector<std::shared_ptr<Consumer>>& outs, int64_t size = 2000,
               int64_t max = 3000, std::chrono::nanoseconds timeout = 10s) {
  Arguments a;
  a.send_batch_size = size;
  a.send_batch_max_size = max;
  a.timeout = runtime::Duration(timeout);
  for (const auto& o : outs) a.output.logs.push_back({o});
  return a;
}

// A request of `n` log records whose resource is service.name=`tag` and whose bodies are
// "<tag>/<i>", so the order of items across cuts can be checked.
pdata::Batch tagged(uint64_t n, const std::string& tag) {
  col_logs::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  auto* kv = rl->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(tag);
  auto* sl = rl->add_scope_logs();
  sl->mutable_scope()->set_name("scope");
  for (uint64_t i = 0; i < n; ++i) {
    sl->add_log_records()->mutable_body()->set_string_value(tag + "/" + std::to_string(i));
  }
  pdata::Batch b;
  b.signal = pdata::Signal::kLogs;
  b.payload = req.SerializeAsString();
  b.items = n;
  return b;
}

// The bodies of the records of `payload`, each checked to sit under the resource of its tag.
std::vector<std::string> bodies(const std::string& payload) {
  col_logs::ExportLogsServiceRequest req;
  EXPECT_TRUE(req.ParseFromString(payload));
  std::vector<std::string> out;
  for (const auto& rl : req.resource_logs()) {
    const std::string tag = rl.resource().attributes(0).value().string_value();
    for (const auto& sl : rl.scope_logs()) {
      EXPECT_EQ(sl.scope().name(), "scope");
      for (const auto& r : sl.log_records()) {
        EXPECT_EQ(r.body().string_value().rfind(tag + "/", 0), 0u) << r.body().string_value();
        out.push_back(r.body().string_value());
      }
    }
  }
  return out;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(BatchProcessorTest, ValidatesMetadataKeys) {
  Arguments a;
  a.metadata_keys = {"X-Scope-OrgID", "tenant"};
  EXPECT_TRUE(a.validate().ok());
  a.metadata_keys = {"x-custom"};
  EXPECT_EQ(a.validate().code(), absl::StatusCode::kInvalidArgument);
  Arguments b;
  b.send_batch_size = 5000;
  EXPECT_FALSE(b.validate().ok());
}

TEST(BatchProcessorTest, SizeTriggerSendsMaxThenRest) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  Component c(host, args({rec}));
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(c.input()->consume(logs(5000)).ok());
  EXPECT_EQ(rec->sizes(), (std::vector<uint64_t>{3000, 2000}));
  EXPECT_TRUE(contains(host.exposition(),
                       "telegate_processor_batch_sends_total{component_id=\"otelcol.processor."
                       "batch.t\",signal=\"logs\",trigger=\"size\"} 2"))
      << host.exposition();
  c.shutdown(std::chrono::steady_clock::now() + 1s);
}

TEST(BatchProcessorTest, SizeTriggerKeepsRemainderBelowBatchSize) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  Component c(host, args({rec}));
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(c.input()->consume(logs(1500)).ok());
  EXPECT_EQ(rec->calls(), 0);
  ASSERT_TRUE(c.input()->consume(logs(3000)).ok());
  EXPECT_EQ(rec->sizes(), (std::vector<uint64_t>{3000}));
  EXPECT_TRUE(contains(host.exposition(),
                       "telegate_processor_batch_pending_items{component_id=\"otelcol.processor."
                       "batch.t\",signal=\"logs\"} 1500"))
      << host.exposition();
  c.shutdown(std::chrono::steady_clock::now() + 1s);
  EXPECT_EQ(rec->sizes(), (std::vector<uint64_t>{3000, 1500}));
  EXPECT_TRUE(contains(host.exposition(), "trigger=\"shutdown\"} 1")) << host.exposition();
}

TEST(BatchProcessorTest, TimeoutFlushesSmallBatches) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  Component c(host, args({rec}, 2000, 3000, 50ms));
  ASSERT_TRUE(c.start().ok());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.input()->consume(logs(10)).ok());
  ASSERT_TRUE(c.input()->consume(logs(5)).ok());
  EXPECT_EQ(rec->calls(), 0);
  ASSERT_TRUE(waitFor([&] { return rec->total() == 15; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_EQ(rec->sizes(), (std::vector<uint64_t>{15}));  // both requests in one batch
  EXPECT_TRUE(contains(host.exposition(), "trigger=\"timeout\"} 1")) << host.exposition();
  c.shutdown(std::chrono::steady_clock::now() + 1s);
}

TEST(BatchProcessorTest, BatchesPerTenant) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  Component c(host, args({rec}));
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(c.input()->consume(logs(1500, "team-a")).ok());
  ASSERT_TRUE(c.input()->consume(logs(1500, "team-b")).ok());
  EXPECT_EQ(rec->calls(), 0);  // 3000 in total, but no tenant reached 2000
  ASSERT_TRUE(c.input()->consume(logs(600, "team-a")).ok());
  auto got = rec->received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].items, 2100u);
  EXPECT_EQ(got[0].tenant, "team-a");
  c.shutdown(std::chrono::steady_clock::now() + 1s);
  got = rec->received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].items, 1500u);
  EXPECT_EQ(got[1].tenant, "team-b");
}

TEST(BatchProcessorTest, CardinalityLimitRefusesNewTenants) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  auto a = args({rec});
  a.metadata_cardinality_limit = 2;
  Component c(host, a);
  ASSERT_TRUE(c.start().ok());
  EXPECT_TRUE(c.input()->consume(logs(1, "a")).ok());
  EXPECT_TRUE(c.input()->consume(logs(1, "b")).ok());
  auto st = c.input()->consume(logs(1, "c"));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(std::string(st.message()), "too many batcher metadata-value combinations"));
  EXPECT_TRUE(c.input()->consume(logs(1, "a")).ok());
  c.shutdown(std::chrono::steady_clock::now() + 1s);
  EXPECT_EQ(rec->total(), 3u);
}

TEST(BatchProcessorTest, SplitInsideResourceKeepsResourceAttributes) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  Component c(host, args({rec}));
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(c.input()->consume(logs(3500, "", "checkout")).ok());
  EXPECT_EQ(rec->sizes(), (std::vector<uint64_t>{3000}));
  c.shutdown(std::chrono::steady_clock::now() + 1s);
  auto got = rec->received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].items, 500u);
  int next = 0;
  for (const auto& r : got) {
    col_logs::ExportLogsServiceRequest req;
    ASSERT_TRUE(req.ParseFromString(r.payload));
    ASSERT_EQ(req.resource_logs_size(), 1);
    const auto& rl = req.resource_logs(0);
    EXPECT_EQ(rl.resource().attributes(0).key(), "service.name");
    EXPECT_EQ(rl.resource().attributes(0).value().string_value(), "checkout");
    EXPECT_EQ(rl.scope_logs(0).scope().name(), "scope");
    for (const auto& rec_ : rl.scope_logs(0).log_records()) {
      EXPECT_EQ(rec_.body().string_value(), "line " + std::to_string(next++));
    }
  }
  EXPECT_EQ(next, 3500);
}

TEST(BatchProcessorTest, ShutdownFlushesEverySignalAndTenant) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  auto a = args({rec});
  a.output.traces.push_back({rec});
  Component c(host, a);
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(c.input()->consume(logs(7, "x")).ok());
  ASSERT_TRUE(c.input()->consume(logs(8, "y")).ok());
  EXPECT_EQ(rec->calls(), 0);
  c.shutdown(std::chrono::steady_clock::now() + 1s);
  EXPECT_EQ(rec->total(), 15u);
  EXPECT_EQ(c.input()->consume(logs(1)).code(), absl::StatusCode::kUnavailable);
}

TEST(BatchProcessorTest, FailingOutputKeepsDataAndRefusesPastTheBound) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  rec->answer(absl::UnavailableError("backend down"));
  Component c(host, args({rec}, 10, 10, 20ms));  // bound: 10 × 10 items per tenant
  ASSERT_TRUE(c.start().ok());
  uint64_t accepted = 0;
  absl::Status st;
  for (int i = 0; i < 20 && st.ok(); ++i) {
    st = c.input()->consume(logs(10));
    if (st.ok()) accepted += 10;
  }
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_EQ(accepted, 100u);
  EXPECT_GE(rec->calls(), 1);
  EXPECT_EQ(rec->total(), 0u);
  EXPECT_TRUE(contains(host.exposition(),
                       "telegate_processor_refused_items_total{component_id="
                       "\"otelcol.processor.batch.t\",signal=\"logs\","
                       "reason=\"pending_limit\"} 10"))
      << host.exposition();
  // The backend recovers: the retry delivers everything, in pieces of at most 10, exactly once.
  rec->answer(absl::OkStatus());
  ASSERT_TRUE(waitFor([&] { return rec->total() == 100; })) << rec->total();
  for (auto n : rec->sizes()) EXPECT_LE(n, 10u);
  EXPECT_TRUE(c.input()->consume(logs(10)).ok());
  c.shutdown(std::chrono::steady_clock::now() + 1s);
  EXPECT_EQ(rec->total(), 110u);
  EXPECT_FALSE(contains(host.exposition(), "telegate_processor_dropped_items_total"));
}

TEST(BatchProcessorTest, PermanentFailureIsCountedAsDrop) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  rec->answer(absl::InvalidArgumentError("rejected by backend"));
  Component c(host, args({rec}, 10, 10));
  ASSERT_TRUE(c.start().ok());
  EXPECT_TRUE(c.input()->consume(logs(10)).ok());
  EXPECT_EQ(rec->calls(), 1);
  EXPECT_TRUE(contains(host.exposition(),
                       "telegate_processor_dropped_items_total{component_id="
                       "\"otelcol.processor.batch.t\",signal=\"logs\","
                       "reason=\"permanent_error\"} 10"))
      << host.exposition();
  c.shutdown(std::chrono::steady_clock::now() + 1s);
  EXPECT_EQ(rec->calls(), 1);  // never retried
}

TEST(BatchProcessorTest, PartialFailureRetriesOnlyTheFailedOutput) {
  FakeHost host;
  auto good = std::make_shared<Recorder>();
  auto bad = std::make_shared<Recorder>();
  bad->answer(absl::ResourceExhaustedError("queue full"));
  Component c(host, args({good, bad}, 10, 10, 20ms));
  ASSERT_TRUE(c.start().ok());
  EXPECT_TRUE(c.input()->consume(logs(10)).ok());
  EXPECT_EQ(good->total(), 10u);
  EXPECT_EQ(bad->total(), 0u);
  bad->answer(absl::OkStatus());
  ASSERT_TRUE(waitFor([&] { return bad->total() == 10; }));
  c.shutdown(std::chrono::steady_clock::now() + 1s);
  EXPECT_EQ(good->total(), 10u);  // no duplicate for the output that accepted it
}

TEST(BatchProcessorTest, ShutdownCountsWhatCannotBeDelivered) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  rec->answer(absl::UnavailableError("down"));
  Component c(host, args({rec}, 10, 10));
  ASSERT_TRUE(c.start().ok());
  EXPECT_TRUE(c.input()->consume(logs(25)).ok());
  c.shutdown(std::chrono::steady_clock::now() + 150ms);
  EXPECT_TRUE(contains(host.exposition(),
                       "telegate_processor_dropped_items_total{component_id="
                       "\"otelcol.processor.batch.t\",signal=\"logs\","
                       "reason=\"shutdown\"} 25"))
      << host.exposition();
}

TEST(BatchProcessorTest, UpdateSendsPendingDataToNewOutputs) {
  FakeHost host;
  auto old_out = std::make_shared<Recorder>();
  auto new_out = std::make_shared<Recorder>();
  Component c(host, args({old_out}));
  auto input = c.input();
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(input->consume(logs(100)).ok());
  ASSERT_TRUE(c.update(args({new_out})).ok());
  EXPECT_EQ(c.input(), input);  // the exported capsule is stable
  ASSERT_TRUE(waitFor([&] { return new_out->total() == 100; }));
  EXPECT_EQ(old_out->total(), 0u);
  EXPECT_TRUE(contains(host.exposition(), "trigger=\"update\"} 1")) << host.exposition();
  c.shutdown(std::chrono::steady_clock::now() + 1s);
}

TEST(BatchProcessorTest, ConcurrentProducersLoseNothing) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  Component c(host, args({rec}, 200, 300, 5ms));
  ASSERT_TRUE(c.start().ok());
  std::atomic<uint64_t> sent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 2000; ++i) {
        uint64_t n = 1 + rng() % 40;
        auto batch = logs(n, t % 2 ? "odd" : "even");
        // A refusal (the single sender of a tenant fell behind on this 2-core machine) is
        // answered like a client answers 429: try again a little later.
        absl::Status st;
        for (int attempt = 0; attempt < 1000; ++attempt) {
          pdata::Batch copy = batch;
          st = c.input()->consume(std::move(copy));
          if (st.code() != absl::StatusCode::kResourceExhausted) break;
          std::this_thread::sleep_for(1ms);
        }
        ASSERT_TRUE(st.ok()) << st;
        sent += n;
      }
    });
  }
  for (auto& th : threads) th.join();
  c.shutdown(std::chrono::steady_clock::now() + 2s);
  EXPECT_EQ(rec->total(), sent.load());
  for (auto n : rec->sizes()) EXPECT_LE(n, 300u);
  EXPECT_FALSE(contains(host.exposition(), "telegate_processor_dropped_items_total"));
}

// A request that is a batch on its own reaches the only output without its bytes being copied.
TEST(BatchProcessorTest, SingleOutputGetsTheRequestBytesWithoutACopy) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  Component c(host, args({rec}, 10, 100));
  ASSERT_TRUE(c.start().ok());
  auto b = logs(50);
  const std::string bytes = b.payload;
  const char* data = b.payload.data();
  ASSERT_TRUE(c.input()->consume(std::move(b)).ok());
  auto got = rec->received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, bytes);
  EXPECT_EQ(got[0].data, data);  // moved all the way, never copied
  c.shutdown(std::chrono::steady_clock::now() + 1s);
}

// With two outputs the first gets a copy and the last one the batch itself.
TEST(BatchProcessorTest, LastOutputGetsTheBatchFirstGetsACopy) {
  FakeHost host;
  auto first = std::make_shared<Recorder>();
  auto last = std::make_shared<Recorder>();
  Component c(host, args({first, last}, 10, 100));
  ASSERT_TRUE(c.start().ok());
  auto b = logs(50);
  const std::string bytes = b.payload;
  const char* data = b.payload.data();
  ASSERT_TRUE(c.input()->consume(std::move(b)).ok());
  auto f = first->received();
  auto l = last->received();
  ASSERT_EQ(f.size(), 1u);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(f[0].payload, bytes);
  EXPECT_EQ(l[0].payload, bytes);
  EXPECT_NE(f[0].data, data);
  EXPECT_EQ(l[0].data, data);
  c.shutdown(std::chrono::steady_clock::now() + 1s);
}

// Refuses (retryably) the first `refusals` calls, checking each time that the batch it was handed
// is whole, and records the bytes of every call.
class FlakyConsumer : public Consumer {
 public:
  explicit FlakyConsumer(int refusals, bool take_then_refuse = false)
      : refusals_(refusals), take_then_refuse_(take_then_refuse) {}
  bool acceptsSignal(pdata::Signal) const override { return true; }
  absl::Status consume(pdata::Batch&& b) override {
    std::lock_guard<std::mutex> l(mu_);
    seen_.push_back(b.payload);
    if (calls_++ < refusals_) {
      if (take_then_refuse_) pdata::Batch stolen = std::move(b);  // breaks the contract
      return absl::UnavailableError("not now");
    }
    accepted_ += b.items;
    return absl::OkStatus();
  }
  std::vector<std::string> seen() const {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }
  uint64_t accepted() const {
    std::lock_guard<std::mutex> l(mu_);
    return accepted_;
  }

 private:
  mutable std::mutex mu_;
  const int refusals_;
  const bool take_then_refuse_;
  int calls_ = 0;
  uint64_t accepted_ = 0;
  std::vector<std::string> seen_;
};

// The batch a refusing output was handed (moved, as it is the only output) is retried whole:
// every attempt carries the request's bytes.
TEST(BatchProcessorTest, RefusedBatchIsRetriedWithIdenticalBytes) {
  FakeHost host;
  auto out = std::make_shared<FlakyConsumer>(2);
  Component c(host, args({out}, 10, 100, 20ms));
  ASSERT_TRUE(c.start().ok());
  auto b = logs(50);
  const std::string bytes = b.payload;
  ASSERT_TRUE(c.input()->consume(std::move(b)).ok());
  ASSERT_TRUE(waitFor([&] { return out->accepted() == 50; }));
  auto seen = out->seen();
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& s : seen) EXPECT_EQ(s, bytes);
  c.shutdown(std::chrono::steady_clock::now() + 1s);
  EXPECT_FALSE(contains(host.exposition(), "telegate_processor_dropped_items_total"));
}

// Same with a piece cut out of two requests, and an output before the refusing one that accepts
// at once: the retry goes to the refusing output only, with the bytes the first one got.
TEST(BatchProcessorTest, RefusedPieceIsRetriedWithIdenticalBytesToThatOutputOnly) {
  FakeHost host;
  auto good = std::make_shared<Recorder>();
  auto flaky = std::make_shared<FlakyConsumer>(1);
  Component c(host, args({good, flaky}, 100, 100, 20ms));
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(c.input()->consume(tagged(60, "a")).ok());
  ASSERT_TRUE(c.input()->consume(tagged(60, "b")).ok());  // 100 cut, 20 kept
  EXPECT_EQ(good->total(), 100u);
  // The timer retries the piece, then sends the 20 that waited for it.
  ASSERT_TRUE(waitFor([&] { return flaky->accepted() == 120; }));
  auto got = good->received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].items, 100u);
  EXPECT_EQ(got[1].items, 20u);
  auto seen = flaky->seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], got[0].payload);
  EXPECT_EQ(seen[1], got[0].payload);
  EXPECT_EQ(seen[2], got[1].payload);
  c.shutdown(std::chrono::steady_clock::now() + 1s);
}

// An output that takes the batch apart and still refuses it cannot get it again: that is counted
// as a drop for that output rather than retried with an empty payload.
TEST(BatchProcessorTest, OutputThatMovesAndRefusesIsCountedNotRetriedEmpty) {
  FakeHost host;
  auto out = std::make_shared<FlakyConsumer>(1, /*take_then_refuse=*/true);
  Component c(host, args({out}, 10, 100, 20ms));
  ASSERT_TRUE(c.input()->consume(logs(50)).ok());
  ASSERT_TRUE(c.start().ok());
  EXPECT_EQ(out->seen().size(), 1u);
  EXPECT_TRUE(contains(host.exposition(),
                       "telegate_processor_dropped_items_total{component_id="
                       "\"otelcol.processor.batch.t\",signal=\"logs\","
                       "reason=\"permanent_error\"} 50"))
      << host.exposition();
  c.shutdown(std::chrono::steady_clock::now() + 1s);
  EXPECT_EQ(out->seen().size(), 1u);
  EXPECT_EQ(out->accepted(), 0u);
}

// Pieces cut from many requests, at request boundaries and inside them, keep every item once, in
// order, under its own resource.
TEST(BatchProcessorTest, CutsAcrossRequestsKeepOrderAndResources) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  Component c(host, args({rec}, 100, 100));
  ASSERT_TRUE(c.start().ok());
  std::vector<std::string> want;
  std::vector<uint64_t> sizes = {40, 40, 40, 7, 1000, 3, 99, 1, 250, 60};
  for (size_t r = 0; r < sizes.size(); ++r) {
    const std::string tag = "r" + std::to_string(r);
    for (uint64_t i = 0; i < sizes[r]; ++i) want.push_back(tag + "/" + std::to_string(i));
    ASSERT_TRUE(c.input()->consume(tagged(sizes[r], tag)).ok());
  }
  // Every size-triggered piece is exactly send_batch_max_size; the rest (40) waits.
  for (auto n : rec->sizes()) EXPECT_EQ(n, 100u);
  EXPECT_EQ(rec->total(), 1500u);
  c.shutdown(std::chrono::steady_clock::now() + 1s);
  std::vector<std::string> seen;
  for (const auto& r : rec->received()) {
    auto b = bodies(r.payload);
    EXPECT_EQ(b.size(), r.items);
    seen.insert(seen.end(), b.begin(), b.end());
  }
  EXPECT_EQ(seen, want);
  EXPECT_EQ(rec->sizes().back(), 40u);
}

// send_batch_max_size 0: everything pending goes as one batch, requests concatenated.
TEST(BatchProcessorTest, NoMaxSizeSendsAllPendingAsOneBatch) {
  FakeHost host;
  auto rec = std::make_shared<Recorder>();
  Component c(host, args({rec}, 100, 0));
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(c.input()->consume(tagged(60, "a")).ok());
  ASSERT_TRUE(c.input()->consume(tagged(70, "b")).ok());
  auto got = rec->received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].items, 130u);
  EXPECT_EQ(bodies(got[0].payload).size(), 130u);
  c.shutdown(std::chrono::steady_clock::now() + 1s);
}

}  // namespace
}  // namespace telegate::otelcol::processor_batch
