#include "src/components/otelcol/exporter/otlphttp/otlphttp.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <set>
#include <thread>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "src/common/decompress.h"
#include "src/net/http_server.h"
#include "test/fakes/fake_host.h"
#include "test/fakes/fake_otlp_http.h"
#include "test/fakes/wait.h"

namespace telegate::otelcol::exporter_otlphttp {
namespace {

using ::telegate::testing::waitFor;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace metricspb = opentelemetry::proto::collector::metrics::v1;

using FakeMimir = ::telegate::testing::FakeOtlpHttpMetrics;

net::HttpResponse status(int code, std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::HttpResponse r = net::HttpResponse::text(code, "scripted");
  r.headers = std::move(headers);
  return r;
}

pdata::Batch metricsBatch(const std::string& name, std::string tenant = "") {
  metricspb::ExportMetricsServiceRequest req;
  auto* m = req.add_resource_metrics()->add_scope_metrics()->add_metrics();
  m->set_name(name);
  auto* dp = m->mutable_gauge()->add_data_points();
  dp->set_as_double(1.5);
  dp->set_time_unix_nano(1700000000000000000ULL);
  pdata::Batch b;
  b.signal = pdata::Signal::kMetrics;
  b.payload = req.SerializeAsString();
  b.items = 1;
  if (!tenant.empty()) {
    auto c = std::make_shared<pdata::ClientInfo>();
    c->tenant = tenant;
    b.client = c;
  }
  return b;
}

Arguments args(uint16_t port, const std::string& path = "/otlp") {
  Arguments a;
  a.client.endpoint = "http://127.0.0.1:" + std::to_string(port) + path;
  a.client.headers = {{"X-Custom", "yes"}};
  a.client.timeout = runtime::Duration(2s);
  return a;
}

exporterhelper::Settings fast() {
  exporterhelper::Settings s;
  s.queue.num_consumers = 2;
  s.retry.initial_interval = runtime::Duration(20ms);
  s.retry.max_interval = runtime::Duration(100ms);
  s.retry.max_elapsed_time = runtime::Duration(20s);
  s.timeout = 2s;
  return s;
}

bool contains(const metrics::Registry& r, const std::string& needle) {
  return r.exposition().find(needle) != std::string::npos;
}

const char kSent[] = "telegate_exporter_sent_items_total{component_id=\"m\",signal=\"metrics\"} ";

TEST(OtlpHttpUrlTest, ComposesSignalUrlsLikeAlloy) {
  Arguments a;
  a.client.endpoint = "http://mimir:8080";
  EXPECT_EQ(signalUrl(a, pdata::Signal::kMetrics), "http://mimir:8080/v1/metrics");
  a.client.endpoint = "http://mimir:8080/otlp/";
  EXPECT_EQ(signalUrl(a, pdata::Signal::kMetrics), "http://mimir:8080/otlp/v1/metrics");
  EXPECT_EQ(signalUrl(a, pdata::Signal::kLogs), "http://mimir:8080/otlp/v1/logs");
  a.traces_endpoint = "http://tempo:4318/custom";
  EXPECT_EQ(signalUrl(a, pdata::Signal::kTraces), "http://tempo:4318/custom");
  EXPECT_TRUE(urlHasNoPath("http://mimir:8080"));
  EXPECT_TRUE(urlHasNoPath("http://mimir:8080/"));
  EXPECT_FALSE(urlHasNoPath("http://mimir:8080/otlp"));
}

TEST(OtlpHttpExporterTest, PostsGzipProtobufWithTenantAndHeaders) {
  FakeMimir mimir;
  ASSERT_TRUE(mimir.start().ok());
  metrics::Registry reg;
  exporterhelper::Exporter e("m", fast(),
                             std::make_shared<HttpSender>(args(mimir.port()), log::Logger()),
                             log::Logger(), reg);
  e.start();
  ASSERT_TRUE(e.consume(metricsBatch("up", "team-a")).ok());
  ASSERT_TRUE(waitFor([&] { return contains(reg, std::string(kSent) + "1"); }, 10s));
  e.shutdown(Clock::now() + 1s);
  auto reqs = mimir.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/otlp/v1/metrics");
  EXPECT_EQ(reqs[0].content_type, "application/x-protobuf");
  EXPECT_EQ(reqs[0].content_encoding, "gzip");
  EXPECT_EQ(reqs[0].org_id, "team-a");
  EXPECT_EQ(reqs[0].custom, "yes");
  ASSERT_TRUE(reqs[0].decoded);
  EXPECT_EQ(reqs[0].message.resource_metrics(0).scope_metrics(0).metrics(0).name(), "up");
  mimir.stop();
}

TEST(OtlpHttpExporterTest, RetryAfterIsHonouredAndDelivered) {
  FakeMimir mimir;
  ASSERT_TRUE(mimir.start().ok());
  mimir.script({status(503, {{"Retry-After", "1"}}), status(200)});
  metrics::Registry reg;
  exporterhelper::Exporter e("m", fast(),
                             std::make_shared<HttpSender>(args(mimir.port()), log::Logger()),
                             log::Logger(), reg);
  e.start();
  ASSERT_TRUE(e.consume(metricsBatch("up")).ok());
  ASSERT_TRUE(waitFor([&] { return contains(reg, std::string(kSent) + "1"); }, 10s));
  auto reqs = mimir.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_GE(reqs[1].at - reqs[0].at, 950ms);
  e.shutdown(Clock::now() + 1s);
  mimir.stop();
}

TEST(OtlpHttpExporterTest, TooManyRequestsIsRetried) {
  FakeMimir mimir;
  ASSERT_TRUE(mimir.start().ok());
  mimir.script({status(429), status(429), status(200)});
  metrics::Registry reg;
  exporterhelper::Exporter e("m", fast(),
                             std::make_shared<HttpSender>(args(mimir.port()), log::Logger()),
                             log::Logger(), reg);
  e.start();
  ASSERT_TRUE(e.consume(metricsBatch("up")).ok());
  ASSERT_TRUE(waitFor([&] { return contains(reg, std::string(kSent) + "1"); }, 10s));
  EXPECT_EQ(mimir.requests().size(), 3u);
  EXPECT_TRUE(
      contains(reg, "telegate_exporter_retries_total{component_id=\"m\",signal=\"metrics\"} 2"));
  e.shutdown(Clock::now() + 1s);
  mimir.stop();
}

TEST(OtlpHttpExporterTest, BadRequestIsDroppedAndCounted) {
  FakeMimir mimir;
  ASSERT_TRUE(mimir.start().ok());
  mimir.script({status(400)});
  metrics::Registry reg;
  exporterhelper::Exporter e("m", fast(),
                             std::make_shared<HttpSender>(args(mimir.port()), log::Logger()),
                             log::Logger(), reg);
  e.start();
  ASSERT_TRUE(e.consume(metricsBatch("up")).ok());
  ASSERT_TRUE(waitFor(
      [&] {
        return contains(reg,
                        "telegate_exporter_send_failed_items_total{component_id=\"m\",signal="
                        "\"metrics\",reason=\"permanent\"} 1");
      },
      10s));
  e.shutdown(Clock::now() + 1s);
  EXPECT_EQ(mimir.requests().size(), 1u);
  mimir.stop();
}

TEST(OtlpHttpExporterTest, NotFoundWithoutPathWarnsWithTheFix) {
  std::mutex mu;
  std::string logged;
  log::setSinkForTest([&](std::string_view line) {
    std::lock_guard<std::mutex> l(mu);
    logged.append(line);
  });
  FakeMimir mimir;
  ASSERT_TRUE(mimir.start().ok());
  mimir.script({status(404)});
  HttpSender s(args(mimir.port(), ""), log::Logger());
  pdata::Batch b = metricsBatch("up");
  auto r = s.send(b, Clock::now() + 2s);
  log::setSinkForTest(nullptr);
  EXPECT_TRUE(r.permanent);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(mimir.requests()[0].path, "/v1/metrics");
  std::lock_guard<std::mutex> l(mu);
  EXPECT_NE(logged.find("/otlp"), std::string::npos) << logged;
  mimir.stop();
}

// Uncompressed protobuf bodies are the payload itself, lent to the request: the batch has its
// bytes back after every outcome (a retryable failure attempts the same batch again).
TEST(OtlpHttpExporterTest, UncompressedBodyIsThePayloadAndIsHandedBack) {
  FakeMimir mimir;
  ASSERT_TRUE(mimir.start().ok());
  mimir.script({status(503), status(200)});
  Arguments a = args(mimir.port());
  a.client.compression = "none";
  HttpSender s(a, log::Logger());
  pdata::Batch b = metricsBatch("up");
  const std::string bytes = b.payload;
  auto r = s.send(b, Clock::now() + 2s);
  EXPECT_FALSE(r.permanent);
  EXPECT_EQ(b.payload, bytes);
  r = s.send(b, Clock::now() + 2s);
  EXPECT_TRUE(r.status.ok()) << r.status;
  auto reqs = mimir.requests();
  ASSERT_EQ(reqs.size(), 2u);
  for (const auto& q : reqs) {
    EXPECT_EQ(q.content_encoding, "");
    ASSERT_TRUE(q.decoded);
    EXPECT_EQ(q.message.SerializeAsString(), bytes);
  }
  mimir.stop();
}

TEST(OtlpHttpExporterTest, JsonEncoding) {
  FakeMimir mimir;
  ASSERT_TRUE(mimir.start().ok());
  Arguments a = args(mimir.port());
  a.encoding = "json";
  a.client.compression = "none";
  HttpSender s(a, log::Logger());
  pdata::Batch b = metricsBatch("up");
  EXPECT_TRUE(s.send(b, Clock::now() + 2s).status.ok());
  auto reqs = mimir.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].content_type, "application/json");
  EXPECT_EQ(reqs[0].content_encoding, "");
  mimir.stop();
}

TEST(OtlpHttpExporterTest, OutageThenRecoveryDeliversEverythingQueued) {
  uint16_t port;
  {
    FakeMimir probe;
    ASSERT_TRUE(probe.start().ok());
    port = probe.port();
    probe.stop();
  }
  metrics::Registry reg;
  exporterhelper::Exporter e("m", fast(), std::make_shared<HttpSender>(args(port), log::Logger()),
                             log::Logger(), reg);
  e.start();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(e.consume(metricsBatch("m" + std::to_string(i))).ok());
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(contains(reg, std::string(kSent) + "0\n"));
  FakeMimir mimir("127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(mimir.start().ok());
  ASSERT_TRUE(waitFor([&] { return contains(reg, std::string(kSent) + "5"); }, 10s));
  EXPECT_FALSE(contains(reg, "telegate_exporter_send_failed_items_total"));
  e.shutdown(Clock::now() + 1s);
  mimir.stop();
}

TEST(OtlpHttpComponentTest, ExportsInputAndDeliversUntilShutdown) {
  FakeMimir mimir;
  ASSERT_TRUE(mimir.start().ok());
  telegate::testing::FakeHost host("otelcol.exporter.otlphttp.mimir");
  Arguments a = args(mimir.port());
  a.retry_on_failure.initial_interval = runtime::Duration(10ms);
  Component c(host, a);
  auto input = host.exported<Consumer>("input");
  ASSERT_NE(input, nullptr);
  ASSERT_TRUE(input->consume(metricsBatch("before_start", "t1")).ok());  // queued
  ASSERT_TRUE(c.start().ok());
  EXPECT_EQ(host.health(), runtime::HealthState::kHealthy);
  ASSERT_TRUE(input->consume(metricsBatch("after_start", "t2")).ok());
  ASSERT_TRUE(waitFor([&] { return mimir.requests().size() == 2; }, 10s));
  c.shutdown(Clock::now() + 1s);
  EXPECT_EQ(input->consume(metricsBatch("late")).code(), absl::StatusCode::kUnavailable);
  std::set<std::string> tenants;
  for (const auto& r : mimir.requests()) tenants.insert(r.org_id);
  EXPECT_EQ(tenants, (std::set<std::string>{"t1", "t2"}));
  EXPECT_TRUE(contains(host.metrics(),
                       "telegate_exporter_sent_items_total{component_id=\"otelcol.exporter."
                       "otlphttp.mimir\",signal=\"metrics\"} 2"));
  mimir.stop();
}

}  // namespace
}  // namespace telegate::otelcol::exporter_otlphttp
