// Tests for prometheus.remote_write against a fake receiver (net::HttpServer) that snappy-decodes
// and parses every WriteRequest: protocol headers and body, external labels, batching by size and
// deadline, retries on 503/429 (Retry-After, Retry-Attempt), drops on 400, refusal when the queue
// is full, the shutdown flush, dynamic resharding and the write-ahead queue (restart recovery,
// full -> RESOURCE_EXHAUSTED).
#include "src/components/prometheus/remote_write/remote_write.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "prometheus/remote.pb.h"
#include "src/common/decompress.h"
#include "src/net/http_server.h"
#include "test/fakes/fake_remote_write.h"
#include "test/fakes/wait.h"

namespace telegate::prometheus::remote_write {
namespace {

using ::telegate::testing::waitFor;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using FakeReceiver = ::telegate::testing::FakeRemoteWrite;

Sample sample(std::string name, Labels extra, int64_t ts, double v) {
  Labels l = {{"__name__", std::move(name)}};
  for (auto& x : extra) l.push_back(std::move(x));
  std::sort(l.begin(), l.end());
  return Sample{std::move(l), ts, v};
}

std::string labelsOf(const ::prometheus::TimeSeries& ts) {
  std::string out;
  for (const auto& l : ts.labels()) strAppend(&out, l.name(), "=", l.value(), ",");
  return out;
}

class RemoteWriteTest : public ::testing::Test {
 protected:
  EndpointBlock endpoint(std::chrono::milliseconds deadline = 50ms) {
    EndpointBlock e;
    e.url = receiver_.url();
    e.queue_config.batch_send_deadline.value = deadline;
    e.queue_config.min_backoff.value = 10ms;
    e.queue_config.max_backoff.value = 40ms;
    e.remote_timeout.value = 5s;
    return e;
  }
  std::unique_ptr<Writer> writer(const Arguments& args) {
    auto w = std::make_unique<Writer>(kId, registry_, log::Logger{{"component_id", kId}});
    EXPECT_TRUE(w->configure(args).ok());
    w->start();
    return w;
  }
  double metric(const std::string& line_prefix) {
    std::string text = registry_.exposition();
    size_t p = text.find(line_prefix + " ");
    if (p == std::string::npos) return 0;
    return std::stod(text.substr(p + line_prefix.size() + 1));
  }

  static constexpr const char* kId = "prometheus.remote_write.t";
  FakeReceiver receiver_;
  metrics::Registry registry_;
};

TEST_F(RemoteWriteTest, SendsSnappyProtobufWithHeadersAndExternalLabels) {
  Arguments args;
  args.external_labels = {{"cluster", "c1"}, {"job", "from-external"}};
  auto e = endpoint();
  e.headers = {{"X-Custom", "yes"}, {"Content-Type", "text/plain"}};
  e.bearer_token.value = "tok";
  args.endpoint.push_back(e);
  auto w = writer(args);
  EXPECT_FALSE(w->durable());  // memory queue

  SeriesBatch in;
  in.beginSeries();  // one series with two samples
  in.addLabel("__name__", "up");
  in.addLabel("job", "app");
  in.addSample(1000, 1);
  in.addSample(2000, 0);
  in.add(sample("requests_total", {{"method", "GET"}}, 1500, 42.5));
  ASSERT_TRUE(w->append(std::move(in)).ok());
  ASSERT_TRUE(receiver_.waitRequests(1));
  auto r = receiver_.requests()[0];
  EXPECT_EQ(r.headers["content-encoding"], "snappy");
  EXPECT_EQ(r.headers["content-type"], "application/x-protobuf");
  EXPECT_EQ(r.headers["x-prometheus-remote-write-version"], "0.1.0");
  EXPECT_FALSE(r.headers["user-agent"].empty());
  EXPECT_EQ(r.headers["authorization"], "Bearer tok");
  EXPECT_EQ(r.headers["x-custom"], "yes");
  EXPECT_EQ(r.headers.count("retry-attempt"), 0u);
  ASSERT_TRUE(r.decoded);
  ASSERT_EQ(r.message.timeseries_size(), 2);
  // One series per label set; the sample's own job wins over the external one.
  EXPECT_EQ(labelsOf(r.message.timeseries(0)), "__name__=up,cluster=c1,job=app,");
  ASSERT_EQ(r.message.timeseries(0).samples_size(), 2);
  EXPECT_EQ(r.message.timeseries(0).samples(0).timestamp(), 1000);
  EXPECT_EQ(r.message.timeseries(0).samples(1).value(), 0);
  EXPECT_EQ(labelsOf(r.message.timeseries(1)),
            "__name__=requests_total,cluster=c1,job=from-external,method=GET,");
  EXPECT_EQ(r.message.timeseries(1).samples(0).value(), 42.5);
  w->shutdown(Clock::now() + 1s);
  EXPECT_EQ(
      metric("telegate_remote_write_sent_samples_total{component_id=\"" + std::string(kId) + "\"}"),
      3);
}

TEST_F(RemoteWriteTest, BasicAuth) {
  Arguments args;
  auto e = endpoint();
  e.basic_auth.emplace();
  e.basic_auth->username = "user";
  e.basic_auth->password.value = "pass";
  args.endpoint.push_back(e);
  auto w = writer(args);
  ASSERT_TRUE(w->append({sample("x", {}, 1, 1)}).ok());
  ASSERT_TRUE(receiver_.waitRequests(1));
  EXPECT_EQ(receiver_.requests()[0].headers["authorization"], "Basic dXNlcjpwYXNz");
}

TEST_F(RemoteWriteTest, BatchesByMaxSamplesPerSend) {
  Arguments args;
  auto e = endpoint(300ms);
  e.queue_config.max_samples_per_send = 2;
  args.endpoint.push_back(e);
  auto w = writer(args);
  std::vector<Sample> in;
  for (int i = 0; i < 5; ++i) in.push_back(sample("s", {}, 1000 + i, i));
  auto t0 = Clock::now();
  ASSERT_TRUE(w->append(std::move(in)).ok());
  ASSERT_TRUE(receiver_.waitRequests(3));
  auto reqs = receiver_.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].samples(), 2u);
  EXPECT_EQ(reqs[1].samples(), 2u);
  EXPECT_EQ(reqs[2].samples(), 1u);
  // Full batches go at once; the remainder waits for batch_send_deadline.
  EXPECT_LT(reqs[1].at - t0, 250ms);
  EXPECT_GE(reqs[2].at - t0, 250ms);
}

TEST_F(RemoteWriteTest, RetriesOn503WithRetryAttempt) {
  receiver_.script({net::HttpResponse::text(503, "busy"), net::HttpResponse::text(500, "oops")});
  Arguments args;
  args.endpoint.push_back(endpoint());
  auto w = writer(args);
  ASSERT_TRUE(w->append({sample("x", {}, 1, 1), sample("y", {}, 1, 2)}).ok());
  ASSERT_TRUE(receiver_.waitRequests(3));
  auto reqs = receiver_.requests();
  EXPECT_EQ(reqs[0].headers.count("retry-attempt"), 0u);
  EXPECT_EQ(reqs[1].headers["retry-attempt"], "1");
  EXPECT_EQ(reqs[2].headers["retry-attempt"], "2");
  for (const auto& r : reqs) EXPECT_EQ(r.samples(), 2u);
  w->shutdown(Clock::now() + 1s);
  std::string id = strCat("{component_id=\"", kId, "\"}");
  EXPECT_EQ(metric("telegate_remote_write_sent_samples_total" + id), 2);
  EXPECT_EQ(metric("telegate_remote_write_retried_samples_total" + id), 4);
  EXPECT_EQ(metric("telegate_remote_write_failed_requests_total" + id), 2);
}

TEST_F(RemoteWriteTest, RetriesOn429HonouringRetryAfter) {
  auto busy = net::HttpResponse::text(429, "slow down");
  busy.headers.emplace_back("Retry-After", "1");
  receiver_.script({busy});
  Arguments args;
  args.endpoint.push_back(endpoint());
  auto w = writer(args);
  ASSERT_TRUE(w->append({sample("x", {}, 1, 1)}).ok());
  ASSERT_TRUE(receiver_.waitRequests(2, 5s));
  auto reqs = receiver_.requests();
  EXPECT_GE(reqs[1].at - reqs[0].at, 900ms);
  EXPECT_EQ(reqs[1].headers["retry-attempt"], "1");
}

TEST_F(RemoteWriteTest, Drops429WhenRetryDisabledAnd400) {
  receiver_.script({net::HttpResponse::text(429, "no"), net::HttpResponse::text(400, "bad")});
  Arguments args;
  auto e = endpoint();
  e.queue_config.retry_on_http_429 = false;
  args.endpoint.push_back(e);
  auto w = writer(args);
  ASSERT_TRUE(w->append({sample("x", {}, 1, 1)}).ok());
  ASSERT_TRUE(receiver_.waitRequests(1));
  ASSERT_TRUE(w->append({sample("x", {}, 2, 1), sample("x", {}, 3, 1)}).ok());
  ASSERT_TRUE(receiver_.waitRequests(2));
  ASSERT_TRUE(w->append({sample("x", {}, 4, 1)}).ok());
  ASSERT_TRUE(receiver_.waitRequests(3));
  w->shutdown(Clock::now() + 1s);
  EXPECT_EQ(receiver_.requests().size(), 3u);  // never retried
  std::string p =
      strCat("telegate_remote_write_dropped_samples_total{component_id=\"", kId, "\",reason=");
  EXPECT_EQ(metric(p + "\"rate_limited\"}"), 1);
  EXPECT_EQ(metric(p + "\"http_400\"}"), 2);
  EXPECT_EQ(metric(strCat("telegate_remote_write_sent_samples_total{component_id=\"", kId, "\"}")),
            1);
}

TEST_F(RemoteWriteTest, FullQueueRefusesWholeCallAndShutdownCountsTheRest) {
  // Every request fails: the first batch is retried forever and holds its room.
  std::vector<net::HttpResponse> fail(1000, net::HttpResponse::text(503, "down"));
  receiver_.script(fail);
  Arguments args;
  auto e = endpoint(10ms);
  e.queue_config.capacity = 3;  // x max_shards: a bound of 3 samples
  e.queue_config.max_shards = 1;
  args.endpoint.push_back(e);
  auto w = writer(args);
  ASSERT_TRUE(w->append({sample("a", {}, 1, 1), sample("b", {}, 1, 1)}).ok());
  // Below the bound: admitted, even though it overshoots.
  ASSERT_TRUE(w->append({sample("c", {}, 1, 1), sample("d", {}, 1, 1)}).ok());
  auto st = w->append({sample("e", {}, 1, 1)});
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_EQ(w->queued(), 4);  // nothing of the refused call was kept
  EXPECT_EQ(w->append({sample("f", {}, 1, 1), sample("g", {}, 1, 1)}).code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(receiver_.waitRequests(2));
  auto t0 = Clock::now();
  w->shutdown(Clock::now() + 300ms);
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_EQ(w->append({sample("g", {}, 1, 1)}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(metric(strCat("telegate_remote_write_dropped_samples_total{component_id=\"", kId,
                          "\",reason=\"shutdown\"}")),
            4);
  EXPECT_EQ(
      metric(strCat("telegate_remote_write_refused_samples_total{component_id=\"", kId, "\"}")), 3);
  EXPECT_EQ(metric(strCat("telegate_remote_write_queued_samples{component_id=\"", kId, "\"}")), 0);
}

TEST_F(RemoteWriteTest, EmptyQueueTakesACallLargerThanItsCapacity) {
  Arguments args;
  auto e = endpoint(10ms);
  e.queue_config.capacity = 2;
  e.queue_config.max_shards = 1;
  args.endpoint.push_back(e);
  auto w = writer(args);
  std::vector<Sample> big;
  for (int i = 0; i < 5; ++i) big.push_back(sample("m", {}, i, i));
  ASSERT_TRUE(w->append(std::move(big)).ok());
  w->shutdown(Clock::now() + 5s);
  EXPECT_EQ(receiver_.samples(), 5u);
}

TEST_F(RemoteWriteTest, ConcurrentAppendersLoseNothing) {
  Arguments args;
  auto e = endpoint(5ms);
  e.queue_config.min_shards = 3;
  e.queue_config.max_samples_per_send = 100;
  e.queue_config.capacity = 1000000;
  args.endpoint.push_back(e);
  auto w = writer(args);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::vector<Sample> in;
        for (int s = 0; s < 5; ++s) {
          in.push_back(sample("m", {{"t", std::to_string(t)}, {"s", std::to_string(s)}}, i, i));
        }
        EXPECT_TRUE(w->append(std::move(in)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  w->shutdown(Clock::now() + 10s);
  EXPECT_EQ(receiver_.samples(), 4000u);
  EXPECT_EQ(w->queued(), 0);
}

TEST_F(RemoteWriteTest, ShutdownFlushesWaitingSamples) {
  Arguments args;
  args.endpoint.push_back(endpoint(60s));  // the deadline would never fire
  auto w = writer(args);
  ASSERT_TRUE(w->append({sample("a", {}, 1, 1), sample("b", {}, 2, 2)}).ok());
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(receiver_.requests().size(), 0u);
  w->shutdown(Clock::now() + 5s);
  EXPECT_EQ(receiver_.samples(), 2u);
}

TEST_F(RemoteWriteTest, ShardsKeepSeriesOrderAndEveryEndpointGetsEverything) {
  FakeReceiver second;
  Arguments args;
  auto e = endpoint(20ms);
  e.queue_config.min_shards = 4;
  e.queue_config.max_samples_per_send = 7;
  args.endpoint.push_back(e);
  auto e2 = e;
  e2.url = second.url();
  args.endpoint.push_back(e2);
  auto w = writer(args);
  for (int i = 0; i < 50; ++i) {
    std::vector<Sample> in;
    for (int s = 0; s < 10; ++s) in.push_back(sample("m", {{"s", std::to_string(s)}}, i, i));
    ASSERT_TRUE(w->append(std::move(in)).ok());
  }
  w->shutdown(Clock::now() + 5s);
  EXPECT_EQ(receiver_.samples(), 500u);
  EXPECT_EQ(second.samples(), 500u);
  std::map<std::string, int64_t> last;
  for (const auto& r : receiver_.requests()) {
    for (const auto& ts : r.message.timeseries()) {
      for (const auto& s : ts.samples()) {
        auto [it, fresh] = last.emplace(labelsOf(ts), s.timestamp());
        if (!fresh) {
          EXPECT_GT(s.timestamp(), it->second);
          it->second = s.timestamp();
        }
      }
    }
  }
  EXPECT_EQ(last.size(), 10u);
}

TEST_F(RemoteWriteTest, UpdateKeepsUnchangedEndpointsAndNoEndpointDiscards) {
  Arguments args;
  args.endpoint.push_back(endpoint(60s));
  auto w = writer(args);
  ASSERT_TRUE(w->append({sample("a", {}, 1, 1)}).ok());
  args.external_labels = {{"x", "y"}};
  ASSERT_TRUE(w->configure(args).ok());  // same endpoint: the queued sample stays
  EXPECT_EQ(w->queued(), 1);
  EXPECT_EQ(receiver_.requests().size(), 0u);
  ASSERT_TRUE(w->configure(Arguments{}).ok());  // removed: flushed
  EXPECT_EQ(receiver_.samples(), 1u);
  EXPECT_TRUE(w->append({sample("b", {}, 1, 1)}).ok());
  EXPECT_EQ(w->queued(), 0);
}

// Checks that every series' timestamps increase over the delivered requests (in arrival order).
void expectSeriesOrder(const std::vector<FakeReceiver::Request>& reqs) {
  std::map<std::string, int64_t> last;
  for (const auto& r : reqs) {
    if (r.status / 100 != 2) continue;
    for (const auto& ts : r.message.timeseries()) {
      for (const auto& smp : ts.samples()) {
        auto [it, fresh] = last.emplace(labelsOf(ts), smp.timestamp());
        if (!fresh) {
          EXPECT_GE(smp.timestamp(), it->second) << labelsOf(ts);
          it->second = smp.timestamp();
        }
      }
    }
  }
}

SeriesBatch round(int series, int64_t ts, const std::string& name = "m") {
  SeriesBatch b;
  for (int s = 0; s < series; ++s) b.add(sample(name, {{"s", std::to_string(s)}}, ts, ts));
  return b;
}

TEST(SeriesBatchTest, BuilderValidityHashAndExpansion) {
  SeriesBatch b;
  b.beginSeries();
  b.addLabel("__name__", "up");
  b.addLabel("job", "a");
  b.addSample(1, 1);
  b.addSample(2, 0);
  b.add(sample("up", {{"job", "a"}}, 3, 1));  // the same label set again
  b.beginSeries();
  b.addLabel("a", "bc");
  b.addSample(4, 4);
  b.beginSeries();
  b.addLabel("ab", "c");
  b.addSample(5, 5);
  EXPECT_TRUE(b.valid());
  EXPECT_EQ(b.seriesCount(), 4u);
  EXPECT_EQ(b.sampleCount(), 5u);
  EXPECT_EQ(b.hash(0), b.hash(1));  // same labels, same hash
  EXPECT_NE(b.hash(2), b.hash(3));  // {a="bc"} vs {ab="c"}: the same bytes, other labels
  EXPECT_NE(b.hash(0), b.hash(2));
  auto samples = b.samples();
  ASSERT_EQ(samples.size(), 5u);
  EXPECT_EQ(samples[1].timestamp_ms, 2);
  EXPECT_EQ(samples[1].labels, (Labels{{"__name__", "up"}, {"job", "a"}}));

  for (auto bad : {std::pair<const char*, const char*>{"", "x"}, {"x", ""}}) {
    SeriesBatch e;
    e.beginSeries();
    e.addLabel(bad.first, bad.second);
    EXPECT_FALSE(e.valid());
  }
  SeriesBatch dup;
  dup.beginSeries();
  dup.addLabel("a", "1");
  dup.addLabel("a", "2");
  EXPECT_FALSE(dup.valid());
}

TEST_F(RemoteWriteTest, RefusesUnsortedLabels) {
  Arguments args;
  args.endpoint.push_back(endpoint());
  auto w = writer(args);
  SeriesBatch b;
  b.beginSeries();
  b.addLabel("job", "x");
  b.addLabel("__name__", "up");  // out of order
  b.addSample(1, 1);
  EXPECT_EQ(w->append(std::move(b)).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RemoteWriteTest, ReshardsUpUnderLoadAndBackDownKeepingOrder) {
  receiver_.setDelay(20ms);  // one shard sends at most ~2500 samples/s
  Arguments args;
  auto e = endpoint(5ms);
  e.queue_config.max_samples_per_send = 50;
  e.queue_config.capacity = 100000;
  e.queue_config.max_shards = 8;
  args.endpoint.push_back(e);
  auto w = std::make_unique<Writer>(kId, registry_, log::Logger{{"component_id", kId}});
  w->setReshardInterval(100ms);
  ASSERT_TRUE(w->configure(args).ok());
  w->start();
  EXPECT_EQ(w->shards(), 1);
  int64_t most = 1;
  int64_t ts = 0;
  // ~8000 samples/s for 1.2 s.
  for (auto until = Clock::now() + 1200ms; Clock::now() < until; ++ts) {
    ASSERT_TRUE(w->append(round(80, ts)).ok());
    most = std::max(most, w->shards());
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(most, 1);
  EXPECT_LE(most, 8);
  // Idle: the backlog drains and the shard count returns to min_shards.
  EXPECT_TRUE(waitFor([&] { return w->queued() == 0 && w->shards() == 1; }, 15s))
      << w->queued() << " " << w->shards();
  w->shutdown(Clock::now() + 5s);
  EXPECT_EQ(receiver_.delivered().size(), static_cast<size_t>(80 * ts));
  expectSeriesOrder(receiver_.requests());
}

class RemoteWriteWalTest : public RemoteWriteTest {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            strCat("rw-wal-", ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                   getpid()))
               .string();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Writer> walWriter(const Arguments& args) {
    auto w = std::make_unique<Writer>(kId, registry_, log::Logger{{"component_id", kId}}, dir_);
    EXPECT_TRUE(w->configure(args).ok());
    EXPECT_TRUE(w->walStatus().ok()) << w->walStatus();
    w->start();
    return w;
  }
  std::string dir_;
};

TEST_F(RemoteWriteWalTest, AcceptedSamplesSurviveARestart) {
  std::vector<net::HttpResponse> fail(100000, net::HttpResponse::text(503, "down"));
  receiver_.script(fail);
  Arguments args;
  args.wal.enabled = true;
  auto e = endpoint(10ms);
  e.queue_config.min_shards = 3;  // a record is split over shards: acked once all are done
  e.queue_config.max_shards = 3;
  e.queue_config.max_samples_per_send = 7;
  args.endpoint.push_back(e);
  {
    auto w = walWriter(args);
    EXPECT_TRUE(w->durable());  // an append answered OK is in the write-ahead queue
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(w->append(round(10, 1000 + i)).ok());
    ASSERT_TRUE(receiver_.waitRequests(1));
    w->shutdown(Clock::now() + 100ms);
  }
  EXPECT_TRUE(receiver_.delivered().empty());
  // Left on disk, not dropped.
  EXPECT_EQ(metric(strCat("telegate_remote_write_dropped_samples_total{component_id=\"", kId,
                          "\",reason=\"shutdown\"}")),
            0);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/wal"));
  receiver_.script({});
  {
    auto w = walWriter(args);
    EXPECT_TRUE(waitFor([&] { return receiver_.delivered().size() == 200; }, 10s))
        << receiver_.delivered().size();
    w->shutdown(Clock::now() + 2s);
  }
  expectSeriesOrder(receiver_.requests());
  // Everything was acknowledged: a third start sends nothing again.
  const size_t before = receiver_.requests().size();
  {
    auto w = walWriter(args);
    std::this_thread::sleep_for(300ms);
    w->shutdown(Clock::now() + 1s);
  }
  EXPECT_EQ(receiver_.requests().size(), before);
}

TEST_F(RemoteWriteWalTest, FullQueueRefusesAndAcceptedSamplesAreDelivered) {
  std::vector<net::HttpResponse> fail(100000, net::HttpResponse::text(503, "down"));
  receiver_.script(fail);
  Arguments args;
  args.wal.enabled = true;
  args.wal.max_size = runtime::ByteSize(64 << 10);
  args.endpoint.push_back(endpoint(10ms));
  auto w = walWriter(args);
  std::set<std::pair<std::string, int64_t>> accepted;
  absl::Status st;
  for (int i = 0; i < 1000; ++i) {
    st = w->append(round(50, 1000 + i));
    if (!st.ok()) break;
    for (int s = 0; s < 50; ++s) {
      accepted.emplace(strCat("__name__=m,s=", s, ","), 1000 + i);
    }
  }
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_GT(accepted.size(), 0u);
  EXPECT_GT(
      metric(strCat("telegate_remote_write_refused_samples_total{component_id=\"", kId, "\"}")), 0);
  receiver_.script({});  // the receiver recovers
  EXPECT_TRUE(waitFor(
      [&] {
        auto got = receiver_.delivered();
        return std::includes(got.begin(), got.end(), accepted.begin(), accepted.end());
      },
      10s));
  // The space is reclaimed once delivered.
  EXPECT_TRUE(waitFor([&] { return w->append(round(50, 5000)).ok(); }, 5s));
  w->shutdown(Clock::now() + 2s);
  expectSeriesOrder(receiver_.requests());
}

TEST_F(RemoteWriteWalTest, UnavailableWithoutADataDirectory) {
  Arguments args;
  args.wal.enabled = true;
  args.endpoint.push_back(endpoint());
  auto w = writer(args);  // no data directory
  EXPECT_FALSE(w->walStatus().ok());
  EXPECT_EQ(w->append({sample("x", {}, 1, 1)}).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace telegate::prometheus::remote_write
