#include "src/components/loki/write/write.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "loki/push.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/components/loki/write/write_testing.h"
#include "src/components/otelcol/exporter/loki/loki.h"
#include "src/net/http_server.h"
#include "test/fakes/fake_host.h"
#include "test/fakes/fake_loki.h"
#include "test/fakes/wait.h"

namespace telegate::loki::write {
namespace {

using ::telegate::testing::FakeHost;

TEST(LokiWriteTest, RenderLabels) {
  EXPECT_EQ(renderLabels({{"b", "y"}, {"a", "x"}, {"__tenant_id__", "t"}}), R"({a="x", b="y"})");
  EXPECT_EQ(renderLabels({{"job", "a\"b\nc\\"}}), R"({job="a\"b\nc\\"})");
  EXPECT_EQ(renderLabels({}), "{}");
  EXPECT_EQ(renderLabels({{"k", "\x01\xff\xc3\xa9"}}), R"({k="\x01\xffé"})");
}

TEST(LokiWriteTest, RequestIsByteExactWithHeadersAndExternalLabels) {
  FakeLoki loki;
  metrics::Registry reg;
  Writer w("loki.write.t", reg, log::Logger{});
  Arguments args;
  auto ep = endpoint(loki);
  ep.headers = {{"X-Custom", "v"}, {"content-type", "text/plain"}};
  ep.basic_auth.emplace();
  ep.basic_auth->username = "user";
  ep.basic_auth->password.value = "pass";
  args.endpoint.push_back(ep);
  args.external_labels = {{"cluster", "c1"}, {"job", "ext"}};
  ASSERT_TRUE(w.configure(args).ok());

  std::vector<Entry> v;
  v.push_back(entry({{"job", "a"}, {"level", "INFO"}}, "first"));
  v.push_back(entry({{"job", "q\"x"}}, "other stream", 1700000001000000000LL));
  Entry third = entry({{"job", "a"}, {"level", "INFO"}}, "second <&>");
  third.structured_metadata = {{"trace_id", "abc"}};
  v.push_back(std::move(third));
  ASSERT_TRUE(w.push(std::move(v)).ok());
  ASSERT_TRUE(loki.waitFor([&] { return loki.delivered().size() == 1; }));
  auto r = loki.delivered()[0];
  ASSERT_EQ(r.push.streams_size(), 2);
  const auto& s0 = r.push.streams(0);
  EXPECT_EQ(s0.labels(), R"({cluster="c1", job="a", level="INFO"})");
  ASSERT_EQ(s0.entries_size(), 2);
  EXPECT_EQ(s0.entries(0).line(), "first");
  EXPECT_EQ(s0.entries(0).timestamp().seconds(), 1700000000);
  EXPECT_EQ(s0.entries(0).timestamp().nanos(), 123456789);
  EXPECT_EQ(s0.entries(1).line(), "second <&>");
  ASSERT_EQ(s0.entries(1).structuredmetadata_size(), 1);
  EXPECT_EQ(s0.entries(1).structuredmetadata(0).name(), "trace_id");
  EXPECT_EQ(s0.entries(1).structuredmetadata(0).value(), "abc");
  EXPECT_EQ(r.push.streams(1).labels(), R"({cluster="c1", job="q\"x"})");
  EXPECT_EQ(r.push.streams(1).entries(0).timestamp().seconds(), 1700000001);

  EXPECT_EQ(r.header("Content-Type"), "application/x-protobuf");
  EXPECT_EQ(r.header("Content-Encoding"), "snappy");
  EXPECT_EQ(r.header("User-Agent").rfind("telegate/", 0), 0u);
  EXPECT_EQ(r.header("X-Scope-OrgID"), "");
  EXPECT_EQ(r.header("X-Custom"), "v");
  EXPECT_EQ(r.header("Authorization"), "Basic dXNlcjpwYXNz");
  EXPECT_TRUE(loki.waitFor([&] {
    return metric(reg, R"(telegate_loki_write_sent_entries_total{component_id="loki.write.t"})") ==
           3;
  }));
  w.shutdown(Clock::now() + 1s);
}

TEST(LokiWriteTest, BatchesBySizeThenFlushesOnShutdown) {
  FakeLoki loki;
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  Arguments args;
  auto ep = endpoint(loki);
  ep.batch_size = ByteSize(100);
  ep.batch_wait = Duration(10s);
  args.endpoint.push_back(ep);
  ASSERT_TRUE(w.configure(args).ok());
  std::vector<Entry> v;
  for (int i = 0; i < 5; ++i) v.push_back(entry({{"job", "a"}}, std::string(40, 'a' + i)));
  ASSERT_TRUE(w.push(std::move(v)).ok());
  ASSERT_TRUE(loki.waitFor([&] { return loki.delivered().size() == 2; }));
  std::this_thread::sleep_for(100ms);
  auto reqs = loki.delivered();
  ASSERT_EQ(reqs.size(), 2u);  // the fifth entry waits for batch_wait
  EXPECT_EQ(reqs[0].entries(), 2u);
  EXPECT_EQ(reqs[1].entries(), 2u);
  EXPECT_EQ(reqs[1].push.streams(0).entries(0).line(), std::string(40, 'c'));
  w.shutdown(Clock::now() + 2s);
  reqs = loki.delivered();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[2].push.streams(0).entries(0).line(), std::string(40, 'e'));
  EXPECT_EQ(pushOne(w, entry({{"job", "a"}}, "late")).code(), absl::StatusCode::kUnavailable);
}

TEST(LokiWriteTest, BatchesByWait) {
  FakeLoki loki;
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  Arguments args;
  auto ep = endpoint(loki);
  ep.batch_wait = Duration(150ms);
  args.endpoint.push_back(ep);
  ASSERT_TRUE(w.configure(args).ok());
  auto t0 = Clock::now();
  ASSERT_TRUE(pushOne(w, entry({{"job", "a"}}, "one")).ok());
  ASSERT_TRUE(pushOne(w, entry({{"job", "a"}}, "two")).ok());
  ASSERT_TRUE(loki.waitFor([&] { return loki.delivered().size() == 1; }));
  EXPECT_GE(Clock::now() - t0, 140ms);
  EXPECT_EQ(loki.delivered()[0].entries(), 2u);
  w.shutdown(Clock::now() + 1s);
}

TEST(LokiWriteTest, RetriesRateLimitedAndServerErrorsThenDeliversOnce) {
  FakeLoki loki;
  loki.script({{429, "rate limited"}, {500, "boom"}, {503, ""}});
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  Arguments args;
  args.endpoint.push_back(endpoint(loki));
  ASSERT_TRUE(w.configure(args).ok());
  ASSERT_TRUE(pushOne(w, entry({{"job", "a"}}, "x")).ok());
  ASSERT_TRUE(loki.waitFor([&] { return loki.delivered().size() == 1; }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(loki.requests().size(), 4u);
  EXPECT_EQ(loki.delivered().size(), 1u);
  EXPECT_EQ(metric(reg, R"(telegate_loki_write_batch_retries_total{component_id="w"})"), 3);
  EXPECT_EQ(metric(reg, R"(telegate_loki_write_sent_entries_total{component_id="w"})"), 1);
  w.shutdown(Clock::now() + 1s);
}

TEST(LokiWriteTest, ClientErrorsAreDroppedAndCounted) {
  FakeLoki loki;
  loki.script({{400, "entry for stream '{job=\"a\"}' has timestamp too old: 2020-01-01\nmore"},
               {400, "entry out of order"},
               {429, "slow down"}});
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  Arguments args;
  auto ep = endpoint(loki);
  ep.retry_on_http_429 = false;
  args.endpoint.push_back(ep);
  ASSERT_TRUE(w.configure(args).ok());
  for (const char* line : {"a", "b", "c"}) {
    ASSERT_TRUE(pushOne(w, entry({{"job", "a"}}, line)).ok());
    size_t want = loki.requests().size() + 1;
    ASSERT_TRUE(loki.waitFor([&] { return loki.requests().size() == want; }));
    std::this_thread::sleep_for(30ms);
  }
  EXPECT_EQ(loki.requests().size(), 3u);  // no retries
  EXPECT_EQ(dropped(reg, "too_old"), 1);
  EXPECT_EQ(dropped(reg, "out_of_order"), 1);
  EXPECT_EQ(dropped(reg, "rate_limited"), 1);
  w.shutdown(Clock::now() + 1s);
}

TEST(LokiWriteTest, BearerTokenAndLineTooLongReason) {
  FakeLoki loki;
  loki.script({{400, "max entry size '10' bytes exceeded for stream '{job=\"a\"}'"}});
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  Arguments args;
  auto ep = endpoint(loki);
  ep.bearer_token.value = "s3cret";
  ep.headers = {{"Authorization", "Basic nope"}, {"X-Scope-OrgID", "not-used"}};
  ep.tenant_id = "t1";
  args.endpoint.push_back(ep);
  ASSERT_TRUE(w.configure(args).ok());
  ASSERT_TRUE(pushOne(w, entry({{"job", "a"}}, std::string(20, 'x'))).ok());
  ASSERT_TRUE(loki.waitFor([&] { return dropped(reg, "line_too_long") == 1; }));
  auto r = loki.requests();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].header("Authorization"), "Bearer s3cret");
  EXPECT_EQ(r[0].header("X-Scope-OrgID"), "t1");
  w.shutdown(Clock::now() + 1s);
}

TEST(LokiWriteTest, RetriesExhaustedDrops) {
  FakeLoki loki;
  loki.byTenant([](const std::string&) { return 503; });
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  Arguments args;
  auto ep = endpoint(loki);
  ep.max_backoff_retries = 3;
  args.endpoint.push_back(ep);
  ASSERT_TRUE(w.configure(args).ok());
  ASSERT_TRUE(pushOne(w, entry({{"job", "a"}}, "x")).ok());
  ASSERT_TRUE(loki.waitFor([&] { return dropped(reg, "retries_exhausted") == 1; }));
  EXPECT_EQ(loki.requests().size(), 3u);
  w.shutdown(Clock::now() + 1s);
}

TEST(LokiWriteTest, TenantsGetOwnRequestsAndOrgIdHeaders) {
  FakeLoki loki;
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  Arguments args;
  auto ep = endpoint(loki);
  ep.tenant_id = "default";
  args.endpoint.push_back(ep);
  ASSERT_TRUE(w.configure(args).ok());
  std::vector<Entry> v;
  v.push_back(entry({{"__tenant_id__", "A"}, {"job", "a"}}, "for A"));
  v.push_back(entry({{"__tenant_id__", "B"}, {"job", "a"}}, "for B"));
  v.push_back(entry({{"job", "a"}}, "for default"));
  ASSERT_TRUE(w.push(std::move(v)).ok());
  ASSERT_TRUE(loki.waitFor([&] { return loki.delivered().size() == 3; }));
  std::map<std::string, std::string> by_tenant;
  for (const auto& r : loki.delivered()) {
    ASSERT_EQ(r.push.streams_size(), 1);
    EXPECT_EQ(r.push.streams(0).labels(), R"({job="a"})");
    by_tenant[r.header("X-Scope-OrgID")] = r.push.streams(0).entries(0).line();
  }
  EXPECT_EQ(by_tenant["A"], "for A");
  EXPECT_EQ(by_tenant["B"], "for B");
  EXPECT_EQ(by_tenant["default"], "for default");
  w.shutdown(Clock::now() + 1s);
}

TEST(LokiWriteTest, OneTenantsOutageDoesNotDelayAnother) {
  FakeLoki loki;
  loki.byTenant([](const std::string& t) { return t == "A" ? 503 : 204; });
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  Arguments args;
  auto ep = endpoint(loki);
  ep.max_backoff_retries = 0;  // retry forever
  ep.queue_config.capacity = ByteSize(64);
  ep.queue_config.block_on_overflow = false;
  args.endpoint.push_back(ep);
  ASSERT_TRUE(w.configure(args).ok());
  ASSERT_TRUE(pushOne(w, entry({{"__tenant_id__", "A"}}, std::string(60, 'a'))).ok());
  ASSERT_TRUE(loki.waitFor([&] { return loki.requests().size() >= 3; }));  // A is retrying
  // A's queue is full; B still has its own room and its own sender.
  EXPECT_EQ(pushOne(w, entry({{"__tenant_id__", "A"}}, std::string(10, 'a'))).code(),
            absl::StatusCode::kResourceExhausted);
  auto t0 = Clock::now();
  ASSERT_TRUE(pushOne(w, entry({{"__tenant_id__", "B"}}, std::string(60, 'b'))).ok());
  ASSERT_TRUE(loki.waitFor([&] { return loki.delivered().size() == 1; }));
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(loki.delivered()[0].header("X-Scope-OrgID"), "B");
  // Shutdown gives up on A at the deadline and counts its entry.
  auto s0 = Clock::now();
  w.shutdown(Clock::now() + 200ms);
  EXPECT_LT(Clock::now() - s0, 2s);
  EXPECT_EQ(dropped(reg, "shutdown"), 1);
  EXPECT_EQ(metric(reg, R"(telegate_loki_write_refused_entries_total{component_id="w"})"), 1);
}

TEST(LokiWriteTest, QueueFullBlocksBoundedThenRefuses) {
  FakeLoki loki;
  loki.byTenant([](const std::string&) { return 500; });
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  w.setOverflowWaitForTest(150ms);
  Arguments args;
  auto ep = endpoint(loki);
  ep.max_backoff_retries = 0;
  ep.queue_config.capacity = ByteSize(100);
  ep.queue_config.block_on_overflow = true;
  args.endpoint.push_back(ep);
  ASSERT_TRUE(w.configure(args).ok());
  ASSERT_TRUE(pushOne(w, entry({{"job", "a"}}, std::string(80, 'x'))).ok());
  auto t0 = Clock::now();
  auto st = pushOne(w, entry({{"job", "a"}}, std::string(50, 'y')));
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_GE(Clock::now() - t0, 140ms);
  EXPECT_LT(Clock::now() - t0, 2s);
  // Fits next to the 80 bytes: accepted.
  EXPECT_TRUE(pushOne(w, entry({{"job", "a"}}, std::string(20, 'z'))).ok());
  w.shutdown(Clock::now() + 100ms);
  EXPECT_EQ(dropped(reg, "shutdown"), 2);
}

TEST(LokiWriteTest, ConnectionErrorsAreRetried) {
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  Arguments args;
  EndpointBlock ep;
  {
    FakeLoki gone;  // take a free port, then close it
    ep = endpoint(gone);
  }
  ep.max_backoff_retries = 2;
  args.endpoint.push_back(ep);
  ASSERT_TRUE(w.configure(args).ok());
  ASSERT_TRUE(pushOne(w, entry({{"job", "a"}}, "x")).ok());
  FakeLoki probe;
  ASSERT_TRUE(probe.waitFor([&] { return dropped(reg, "retries_exhausted") == 1; }));
  EXPECT_EQ(metric(reg, R"(telegate_loki_write_batch_retries_total{component_id="w"})"), 1);
  w.shutdown(Clock::now() + 1s);
}

pdata::Batch otlpLogs(const std::string& service, const std::string& body,
                      const std::string& tenant) {
  ::opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  auto* kv = rl->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(service);
  auto* rec = rl->add_scope_logs()->add_log_records();
  rec->set_time_unix_nano(1700000000000000000ULL);
  rec->set_severity_number(::opentelemetry::proto::logs::v1::SEVERITY_NUMBER_WARN);
  rec->mutable_body()->set_string_value(body);
  pdata::Batch b;
  b.signal = pdata::Signal::kLogs;
  b.payload = req.SerializeAsString();
  b.items = 1;
  auto ci = std::make_shared<pdata::ClientInfo>();
  ci->tenant = tenant;
  b.client = ci;
  return b;
}

// otelcol.exporter.loki -> loki.write -> fake Loki, through the components and their exports.
TEST(LokiPipelineTest, ExporterToWriterToLoki) {
  FakeLoki loki;
  FakeHost write_host("loki.write.default");
  Arguments wargs;
  wargs.endpoint.push_back(endpoint(loki));
  Component writer(write_host, wargs);
  ASSERT_TRUE(writer.start().ok());
  EXPECT_EQ(write_host.health(), runtime::HealthState::kHealthy);
  auto receiver = write_host.exported<LogsReceiver>("receiver");
  ASSERT_NE(receiver, nullptr);

  FakeHost exp_host("otelcol.exporter.loki.default");
  otelcol::exporter_loki::Arguments eargs;
  eargs.forward_to.push_back({receiver});
  otelcol::exporter_loki::Component exporter(exp_host, eargs);
  ASSERT_TRUE(exporter.start().ok());
  auto input = exp_host.exported<otelcol::Consumer>("input");
  ASSERT_NE(input, nullptr);

  ASSERT_TRUE(input->consume(otlpLogs("django-app", "boom", "team-a")).ok());
  ASSERT_TRUE(loki.waitFor([&] { return loki.delivered().size() == 1; }));
  auto r = loki.delivered()[0];
  EXPECT_EQ(r.header("X-Scope-OrgID"), "team-a");
  ASSERT_EQ(r.push.streams_size(), 1);
  EXPECT_EQ(r.push.streams(0).labels(),
            R"({exporter="OTLP", job="django-app", level="WARN", service_name="django-app"})");
  EXPECT_EQ(r.push.streams(0).entries(0).line(),
            R"({"body":"boom","resources":{"service.name":"django-app"}})");

  // Reconfiguration keeps the exported receiver object and flushes into the new endpoint.
  wargs.external_labels = {{"cluster", "c1"}};
  ASSERT_TRUE(writer.update(wargs).ok());
  EXPECT_EQ(write_host.exported<LogsReceiver>("receiver"), receiver);
  ASSERT_TRUE(input->consume(otlpLogs("django-app", "again", "")).ok());
  ASSERT_TRUE(loki.waitFor([&] { return loki.delivered().size() == 2; }));
  EXPECT_EQ(loki.delivered()[1].push.streams(0).labels(),
            R"({cluster="c1", exporter="OTLP", job="django-app", level="WARN", )"
            R"(service_name="django-app"})");
  EXPECT_EQ(loki.delivered()[1].header("X-Scope-OrgID"), "");
  writer.shutdown(Clock::now() + 1s);
  // After shutdown the exporter's sender is told to retry instead of losing data.
  EXPECT_EQ(input->consume(otlpLogs("django-app", "late", "")).code(),
            absl::StatusCode::kUnavailable);
}

TEST(LokiPipelineTest, FullQueueIsReturnedToTheSender) {
  FakeLoki loki;
  loki.byTenant([](const std::string&) { return 503; });
  FakeHost write_host("loki.write.default");
  Arguments wargs;
  auto ep = endpoint(loki);
  ep.max_backoff_retries = 0;
  ep.queue_config.capacity = ByteSize(10);
  ep.queue_config.block_on_overflow = false;
  wargs.endpoint.push_back(ep);
  Component writer(write_host, wargs);
  ASSERT_TRUE(writer.start().ok());
  FakeHost exp_host("otelcol.exporter.loki.default");
  otelcol::exporter_loki::Arguments eargs;
  eargs.forward_to.push_back({write_host.exported<LogsReceiver>("receiver")});
  otelcol::exporter_loki::Component exporter(exp_host, eargs);
  auto input = exp_host.exported<otelcol::Consumer>("input");
  ASSERT_TRUE(input->consume(otlpLogs("svc", "first", "")).ok());
  EXPECT_EQ(input->consume(otlpLogs("svc", "second", "")).code(),
            absl::StatusCode::kResourceExhausted);
  writer.shutdown(Clock::now() + 100ms);
}

TEST(LokiWriteTest, BatchPushKeepsStreamsAndMetadata) {
  FakeLoki loki;
  metrics::Registry reg;
  Writer w("w", reg, log::Logger{});
  Arguments args;
  args.endpoint.push_back(endpoint(loki));
  ASSERT_TRUE(w.configure(args).ok());
  EntryBatch b;
  uint32_t s1 = b.addStream({{"job", "a"}});
  uint32_t s2 = b.addStream({{"job", "b"}, {"__tenant_id__", "t2"}});
  b.add(s1, 1, "one");
  b.add(s2, -1, "two", {{"k", "v"}, {"", "empty-name"}});
  b.add(s1, 0, "");
  ASSERT_TRUE(w.pushBatch(std::move(b)).ok());
  ASSERT_TRUE(loki.waitFor([&] { return loki.delivered().size() == 2; }));
  for (const auto& r : loki.delivered()) {
    if (r.header("X-Scope-OrgID") == "t2") {
      const auto& e = r.push.streams(0).entries(0);
      EXPECT_EQ(e.line(), "two");
      EXPECT_EQ(e.timestamp().seconds(), -1);
      EXPECT_EQ(e.timestamp().nanos(), 999999999);
      ASSERT_EQ(e.structuredmetadata_size(), 2);
      EXPECT_EQ(e.structuredmetadata(1).value(), "empty-name");
    } else {
      ASSERT_EQ(r.push.streams_size(), 1);
      ASSERT_EQ(r.push.streams(0).entries_size(), 2);
      EXPECT_EQ(r.push.streams(0).entries(0).timestamp().nanos(), 1);
      EXPECT_EQ(r.push.streams(0).entries(1).line(), "");
    }
  }
  w.shutdown(Clock::now() + 1s);
}

}  // namespace
}  // namespace telegate::loki::write
