#include "src/components/otelcol/exporterhelper/disk_queue_adapter.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <set>
#include <thread>

#include "src/common/log.h"
#include "src/components/otelcol/exporterhelper/exporter.h"
#include "test/fakes/wait.h"

namespace telegate::otelcol::exporterhelper {
namespace {

using ::telegate::testing::waitFor;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

pdata::Batch batch(uint64_t n, std::string tenant = "", pdata::Signal s = pdata::Signal::kLogs,
                   size_t pad = 0) {
  pdata::Batch b;
  b.signal = s;
  b.payload = "payload-" + std::to_string(n) + std::string(pad, 'x');
  b.items = n;
  if (!tenant.empty()) {
    auto c = std::make_shared<pdata::ClientInfo>();
    c->tenant = tenant;
    b.client = c;
  }
  return b;
}

class DiskSendQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/telegate_dsq_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  queue::DiskQueueOptions opts(uint64_t max_bytes = 1 << 20) {
    queue::DiskQueueOptions o;
    o.dir = dir_ + "/queue";
    o.max_bytes = max_bytes;
    o.sync = queue::SyncPolicy::kNever;
    o.registry = &reg_;
    return o;
  }
  std::unique_ptr<DiskSendQueue> open(uint64_t max_bytes = 1 << 20) {
    auto q = DiskSendQueue::open(opts(max_bytes));
    EXPECT_TRUE(q.ok()) << q.status();
    return q.ok() ? std::move(*q) : nullptr;
  }

  std::string dir_;
  metrics::Registry reg_;
};

TEST_F(DiskSendQueueTest, RecordRoundTrip) {
  pdata::Batch b = batch(0x0102030405060708ull, "tenant-a", pdata::Signal::kMetrics);
  auto d = decodeBatchRecord(b.payload, encodeBatchMeta(b));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->signal, pdata::Signal::kMetrics);
  EXPECT_EQ(d->items, 0x0102030405060708ull);
  EXPECT_EQ(d->payload, b.payload);
  ASSERT_NE(d->client, nullptr);
  EXPECT_EQ(d->client->tenant, "tenant-a");

  pdata::Batch plain = batch(1);
  auto none = decodeBatchRecord(plain.payload, encodeBatchMeta(plain));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->client, nullptr);
  EXPECT_EQ(none->payload, plain.payload);
  auto empty = decodeBatchRecord("", encodeBatchMeta(pdata::Batch{}));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->payload, "");
  EXPECT_FALSE(decodeBatchRecord("short", "").ok());
  EXPECT_FALSE(decodeBatchRecord("payload", std::string("\xff\x02\x01", 3)).ok());
  std::string bad = encodeBatchMeta(plain);
  bad[1] = 7;
  EXPECT_FALSE(decodeBatchRecord(plain.payload, bad).ok());
}

// Records written by older versions: [signal][items u64][payload], meta = the tenant.
TEST_F(DiskSendQueueTest, DecodesFirstFormatRecords) {
  std::string rec(1, static_cast<char>(pdata::Signal::kTraces));
  for (int i = 0; i < 8; ++i) rec.push_back(static_cast<char>(i == 0 ? 42 : 0));
  rec += "otlp-bytes";
  auto d = decodeBatchRecord(rec, "tenant-b");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->signal, pdata::Signal::kTraces);
  EXPECT_EQ(d->items, 42u);
  EXPECT_EQ(d->payload, "otlp-bytes");
  ASSERT_NE(d->client, nullptr);
  EXPECT_EQ(d->client->tenant, "tenant-b");
  auto none = decodeBatchRecord(rec, "");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->client, nullptr);
  rec[0] = 7;
  EXPECT_FALSE(decodeBatchRecord(rec, "").ok());

  // Such a record left in a queue directory is delivered after an upgrade.
  {
    auto raw = queue::DiskQueue::open(opts());
    ASSERT_TRUE(raw.ok()) << raw.status();
    rec[0] = static_cast<char>(pdata::Signal::kLogs);
    ASSERT_TRUE((*raw)->push(rec, "tenant-c").ok());
  }
  auto q = open();
  ASSERT_NE(q, nullptr);
  auto item = q->pop(false);
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->batch.signal, pdata::Signal::kLogs);
  EXPECT_EQ(item->batch.items, 42u);
  EXPECT_EQ(item->batch.payload, "otlp-bytes");
  ASSERT_NE(item->batch.client, nullptr);
  EXPECT_EQ(item->batch.client->tenant, "tenant-c");
  q->ack(item->id);
}

TEST_F(DiskSendQueueTest, PushPopAckInOrderWithTenants) {
  auto q = open();
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(q->durable());
  EXPECT_EQ(q->capacity(), 1u << 20);
  for (uint64_t i = 1; i <= 5; ++i) {
    ASSERT_TRUE(q->push(batch(i, i % 2 ? "odd" : ""), Clock::time_point::min()).ok());
  }
  EXPECT_EQ(q->size(), 5u);
  for (uint64_t i = 1; i <= 5; ++i) {
    auto item = q->pop(true);
    ASSERT_TRUE(item.has_value());
    EXPECT_EQ(item->batch.items, i);
    EXPECT_EQ(item->batch.payload, "payload-" + std::to_string(i));
    if (i % 2) {
      ASSERT_NE(item->batch.client, nullptr);
      EXPECT_EQ(item->batch.client->tenant, "odd");
    } else {
      EXPECT_EQ(item->batch.client, nullptr);
    }
    q->ack(item->id);
  }
  EXPECT_EQ(q->size(), 0u);
  EXPECT_FALSE(q->pop(false).has_value());
}

TEST_F(DiskSendQueueTest, BoundIsResourceExhaustedAndAckMakesRoom) {
  auto q = open(64 << 10);  // segments of 16 KiB
  ASSERT_NE(q, nullptr);
  int accepted = 0;
  absl::Status st;
  for (int i = 0; i < 1000; ++i) {
    st = q->push(batch(i, "t", pdata::Signal::kLogs, 1000), Clock::time_point::min());
    if (!st.ok()) break;
    ++accepted;
  }
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_GT(accepted, 30);
  EXPECT_LT(accepted, 70);
  EXPECT_LE(q->liveBytes(), 64u << 10);
  // A batch larger than the whole bound can never fit.
  EXPECT_EQ(q->push(batch(1, "", pdata::Signal::kLogs, 100 << 10), Clock::time_point::min()).code(),
            absl::StatusCode::kInvalidArgument);
  // block_on_overflow: a pusher waiting for room succeeds once consumers ack.
  std::thread consumer([&] {
    std::this_thread::sleep_for(50ms);
    while (auto item = q->pop(false)) q->ack(item->id);
  });
  EXPECT_TRUE(q->push(batch(9999, "t", pdata::Signal::kLogs, 1000), Clock::now() + 5s).ok());
  consumer.join();
  q->close();
  EXPECT_EQ(q->push(batch(1), Clock::time_point::min()).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(q->pop(true).has_value());  // closed: returns at once
}

TEST_F(DiskSendQueueTest, ReopenRedeliversUnacked) {
  {
    auto q = open();
    ASSERT_NE(q, nullptr);
    for (uint64_t i = 1; i <= 6; ++i) {
      ASSERT_TRUE(q->push(batch(i, "t" + std::to_string(i)), Clock::time_point::min()).ok());
    }
    auto a = q->pop(true);  // acked: gone after the restart
    ASSERT_TRUE(a.has_value());
    q->ack(a->id);
    auto b = q->pop(true);  // nacked: redelivered
    ASSERT_TRUE(b.has_value());
    q->nack(b->id);
    auto c = q->pop(true);  // popped (this is b again), never settled before the "crash"
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->batch.items, 2u);
  }
  auto q = open();
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->size(), 5u);
  std::vector<uint64_t> got;
  while (auto item = q->pop(false)) {
    got.push_back(item->batch.items);
    ASSERT_NE(item->batch.client, nullptr);
    EXPECT_EQ(item->batch.client->tenant, "t" + std::to_string(item->batch.items));
    q->ack(item->id);
  }
  EXPECT_EQ(got, (std::vector<uint64_t>{2, 3, 4, 5, 6}));
}

TEST_F(DiskSendQueueTest, SecondOpenOfSameDirectoryFails) {
  auto q = open();
  ASSERT_NE(q, nullptr);
  auto second = DiskSendQueue::open(opts());
  EXPECT_FALSE(second.ok());
}

TEST(UnavailableQueueTest, RefusesAndUnblocksOnClose) {
  UnavailableQueue q(absl::InternalError("no disk"));
  EXPECT_EQ(q.push(batch(1), Clock::time_point::min()).code(), absl::StatusCode::kUnavailable);
  std::thread t([&] { EXPECT_FALSE(q.pop(true).has_value()); });
  std::this_thread::sleep_for(10ms);
  q.close();
  t.join();
}

// A Sender that fails until told otherwise, recording delivered batches.
class SwitchSender : public Sender {
 public:
  SendResult send(pdata::Batch& b, Clock::time_point) override {
    std::lock_guard<std::mutex> l(mu_);
    if (!up_) return SendResult{absl::UnavailableError("down")};
    delivered_.insert(b.items);
    return SendResult{};
  }
  void up() {
    std::lock_guard<std::mutex> l(mu_);
    up_ = true;
  }
  std::set<uint64_t> delivered() {
    std::lock_guard<std::mutex> l(mu_);
    return delivered_;
  }

 private:
  std::mutex mu_;
  bool up_ = false;
  std::set<uint64_t> delivered_;
};

template <class S>
bool waitForSent(S& sender, size_t n) {
  return waitFor([&] { return sender.sent().size() >= n; });
}

Settings diskSettings(const std::string& dir) {
  Settings s;
  s.queue.storage = "disk";
  s.queue.num_consumers = 2;
  s.queue.max_size = runtime::ByteSize(1 << 20);
  s.queue.fsync = "never";
  s.queue_dir = dir + "/queue";
  s.retry.initial_interval = runtime::Duration(5ms);
  s.retry.max_interval = runtime::Duration(20ms);
  s.retry.max_elapsed_time = runtime::Duration(0s);
  return s;
}

TEST_F(DiskSendQueueTest, ExporterKeepsUndeliveredBatchesAcrossShutdown) {
  metrics::Registry reg;
  Settings settings = diskSettings(dir_);
  settings.merge_max_items = 1;  // one batch per send: delivered() tells the batches apart
  {
    auto down = std::make_shared<SwitchSender>();
    Exporter e("otelcol.exporter.test", settings, down, log::Logger(), reg);
    ASSERT_TRUE(e.queueStatus().ok()) << e.queueStatus();
    e.start();
    for (uint64_t i = 1; i <= 20; ++i) ASSERT_TRUE(e.consume(batch(i, "t")).ok());
    std::this_thread::sleep_for(30ms);
    e.shutdown(Clock::now());  // backend still down: nothing dropped, all kept on disk
  }
  auto up = std::make_shared<SwitchSender>();
  up->up();
  Exporter e("otelcol.exporter.test", settings, up, log::Logger(), reg);
  ASSERT_TRUE(e.queueStatus().ok()) << e.queueStatus();
  e.start();
  waitFor([&] { return up->delivered().size() >= 20; });
  EXPECT_EQ(up->delivered().size(), 20u);
  e.shutdown(Clock::now() + 1s);
}

TEST_F(DiskSendQueueTest, ExporterRefusesWhenDiskQueueCannotOpen) {
  metrics::Registry reg;
  auto first = DiskSendQueue::open(opts());  // holds the directory lock
  ASSERT_TRUE(first.ok());
  auto s = diskSettings(dir_);
  Exporter e("otelcol.exporter.test", s, std::make_shared<SwitchSender>(), log::Logger(), reg);
  EXPECT_FALSE(e.queueStatus().ok());
  e.start();
  EXPECT_EQ(e.consume(batch(1)).code(), absl::StatusCode::kUnavailable);
  e.shutdown(Clock::now());
}

// A Sender recording every request it is given (signal, tenant, items, payload).
class RecordingSender : public Sender {
 public:
  struct Sent {
    pdata::Signal signal;
    std::string tenant;
    uint64_t items;
    std::string payload;
  };
  SendResult send(pdata::Batch& b, Clock::time_point) override {
    std::lock_guard<std::mutex> l(mu_);
    sent_.push_back({b.signal, b.client ? b.client->tenant : "", b.items, b.payload});
    return SendResult{};
  }
  std::vector<Sent> sent() {
    std::lock_guard<std::mutex> l(mu_);
    return sent_;
  }

 private:
  std::mutex mu_;
  std::vector<Sent> sent_;
};

TEST_F(DiskSendQueueTest, ExporterMergesQueuedBatchesPerTenantAndSignal) {
  metrics::Registry reg;
  Settings s = diskSettings(dir_);
  s.queue.num_consumers = 1;
  s.merge_max_items = 100;
  auto sender = std::make_shared<RecordingSender>();
  auto exporter =
      std::make_unique<Exporter>("otelcol.exporter.test", s, sender, log::Logger(), reg);
  Exporter& e = *exporter;
  ASSERT_TRUE(e.queueStatus().ok()) << e.queueStatus();
  EXPECT_TRUE(e.durable(pdata::Signal::kLogs));
  // Queued before the sender starts, in this order.
  ASSERT_TRUE(e.consume(batch(10, "a")).ok());
  ASSERT_TRUE(e.consume(batch(20, "a")).ok());
  ASSERT_TRUE(e.consume(batch(30, "a")).ok());
  ASSERT_TRUE(e.consume(batch(5, "b")).ok());
  ASSERT_TRUE(e.consume(batch(6, "b")).ok());
  ASSERT_TRUE(e.consume(batch(7, "b", pdata::Signal::kTraces)).ok());
  ASSERT_TRUE(e.consume(batch(90, "b", pdata::Signal::kTraces)).ok());  // 97 fits under 100
  ASSERT_TRUE(e.consume(batch(4, "b", pdata::Signal::kTraces)).ok());   // 101 would not
  ASSERT_TRUE(e.consume(batch(500, "a")).ok());  // alone over the bound: sent alone
  ASSERT_TRUE(e.consume(batch(1, "a")).ok());
  e.start();
  ASSERT_TRUE(waitForSent(*sender, 6));
  auto sent = sender->sent();
  ASSERT_EQ(sent.size(), 6u);
  EXPECT_EQ(sent[0].tenant, "a");
  EXPECT_EQ(sent[0].items, 60u);
  EXPECT_EQ(sent[0].payload, "payload-10payload-20payload-30");
  EXPECT_EQ(sent[1].tenant, "b");
  EXPECT_EQ(sent[1].items, 11u);
  EXPECT_EQ(sent[1].signal, pdata::Signal::kLogs);
  EXPECT_EQ(sent[2].items, 97u);
  EXPECT_EQ(sent[2].signal, pdata::Signal::kTraces);
  EXPECT_EQ(sent[3].items, 4u);
  EXPECT_EQ(sent[4].items, 500u);
  EXPECT_EQ(sent[5].items, 1u);
  // Every merged record was acknowledged.
  EXPECT_TRUE(waitFor([&] { return e.queueSize() == 0; }));
  e.shutdown(Clock::now() + 1s);
  exporter.reset();  // releases the queue directory
  auto again = open();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->size(), 0u);
}

TEST_F(DiskSendQueueTest, MergedBatchesStayOnDiskWhenNotDeliveredByShutdown) {
  metrics::Registry reg;
  Settings s = diskSettings(dir_);
  s.queue.num_consumers = 1;
  {
    auto down = std::make_shared<SwitchSender>();
    Exporter e("otelcol.exporter.test", s, down, log::Logger(), reg);
    for (uint64_t i = 1; i <= 5; ++i) ASSERT_TRUE(e.consume(batch(i, "t")).ok());
    e.start();
    std::this_thread::sleep_for(30ms);
    e.shutdown(Clock::now());
  }
  auto q = open();
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->size(), 5u);  // every merged record was nacked, none lost
}

}  // namespace
}  // namespace telegate::otelcol::exporterhelper
