// Tests for otelcol.exporter.prometheus: Prometheus naming (units, suffixes, sanitising), golden
// conversions of every metric type with resource/scope labels and info series, the options, and
// the consumer's contract (signals, malformed payloads, refusals passed through).
#include "src/components/otelcol/exporter/prometheus/prometheus.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "src/common/strings.h"

namespace telegate::otelcol::exporter_prometheus {
namespace {

namespace col = ::opentelemetry::proto::collector::metrics::v1;
namespace mpb = ::opentelemetry::proto::metrics::v1;
namespace cpb = ::opentelemetry::proto::common::v1;

constexpr int64_t kNow = 1700000099000;
constexpr uint64_t kTs = 1700000000123456789ull;  // -> 1700000000123 ms

TEST(PrometheusNames, Suffixes) {
  auto n = [](std::string_view name, std::string_view unit, NameKind k) {
    return buildMetricName(name, unit, k, true);
  };
  EXPECT_EQ(n("http.server.duration", "s", NameKind::kOther), "http_server_duration_seconds");
  EXPECT_EQ(n("http_requests", "{request}", NameKind::kMonotonicSum), "http_requests_total");
  EXPECT_EQ(n("process.memory.usage", "By", NameKind::kGauge), "process_memory_usage_bytes");
  EXPECT_EQ(n("system.cpu.utilization", "1", NameKind::kGauge), "system_cpu_utilization_ratio");
  EXPECT_EQ(n("requests", "1", NameKind::kMonotonicSum), "requests_total");
  EXPECT_EQ(n("requests", "1", NameKind::kOther), "requests");
  EXPECT_EQ(n("network.io", "By/s", NameKind::kGauge), "network_io_bytes_per_second");
  EXPECT_EQ(n("speed", "m/h", NameKind::kGauge), "speed_meters_per_hour");
  EXPECT_EQ(n("events", "{event}/s", NameKind::kGauge), "events_per_second");
  EXPECT_EQ(n("duration_seconds", "s", NameKind::kOther), "duration_seconds");
  EXPECT_EQ(n("total_requests", "", NameKind::kMonotonicSum), "requests_total");
  EXPECT_EQ(n("latency", "ms", NameKind::kOther), "latency_milliseconds");
  EXPECT_EQ(n("temp", "Cel", NameKind::kGauge), "temp_celsius");
  EXPECT_EQ(n("odd", "km", NameKind::kGauge), "odd_km");
  EXPECT_EQ(n("2xx.count", "", NameKind::kGauge), "_2xx_count");
  EXPECT_EQ(n("a..b--c", "", NameKind::kGauge), "a_b_c");
  EXPECT_EQ(n("já.x", "", NameKind::kGauge), "j_x");
}

TEST(PrometheusNames, WithoutSuffixes) {
  auto n = [](std::string_view name, std::string_view unit, NameKind k) {
    return buildMetricName(name, unit, k, false);
  };
  EXPECT_EQ(n("http.server.duration", "s", NameKind::kOther), "http_server_duration");
  EXPECT_EQ(n("http_requests", "1", NameKind::kMonotonicSum), "http_requests");
  EXPECT_EQ(n("a..b", "", NameKind::kGauge), "a_b");
  EXPECT_EQ(n("ns:metric__x", "", NameKind::kGauge), "ns:metric__x");
  EXPECT_EQ(n("9lives", "", NameKind::kGauge), "_9lives");
}

TEST(PrometheusNames, Labels) {
  EXPECT_EQ(normalizeLabel("http.method"), "http_method");
  EXPECT_EQ(normalizeLabel("0abc"), "key_0abc");
  EXPECT_EQ(normalizeLabel("_x"), "key_x");
  EXPECT_EQ(normalizeLabel("__x"), "__x");
  EXPECT_EQ(normalizeLabel("k8s.pod-name"), "k8s_pod_name");
}

void kv(google::protobuf::RepeatedPtrField<cpb::KeyValue>* out, const std::string& k,
        const std::string& v) {
  auto* x = out->Add();
  x->set_key(k);
  x->mutable_value()->set_string_value(v);
}

col::ExportMetricsServiceRequest fullRequest() {
  col::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  auto* ra = rm->mutable_resource()->mutable_attributes();
  kv(ra, "service.name", "e2e-svc");
  kv(ra, "service.namespace", "shop");
  kv(ra, "service.instance.id", "i-1");
  kv(ra, "host.name", "h1");
  auto* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name("lib");
  sm->mutable_scope()->set_version("1.0");

  auto* g = sm->add_metrics();
  g->set_name("process.memory.usage");
  g->set_unit("By");
  auto* gp = g->mutable_gauge()->add_data_points();
  gp->set_time_unix_nano(kTs);
  gp->set_as_int(2048);
  kv(gp->mutable_attributes(), "pool.name", "heap");

  auto* s = sm->add_metrics();
  s->set_name("http_requests");
  s->set_unit("{request}");
  s->mutable_sum()->set_is_monotonic(true);
  s->mutable_sum()->set_aggregation_temporality(mpb::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* sp = s->mutable_sum()->add_data_points();
  sp->set_time_unix_nano(kTs);
  sp->set_as_double(17.5);
  kv(sp->mutable_attributes(), "http.method", "GET");

  auto* d = sm->add_metrics();  // delta: dropped
  d->set_name("delta_requests");
  d->mutable_sum()->set_is_monotonic(true);
  d->mutable_sum()->set_aggregation_temporality(mpb::AGGREGATION_TEMPORALITY_DELTA);
  d->mutable_sum()->add_data_points()->set_as_int(1);
  d->mutable_sum()->add_data_points()->set_as_int(2);

  auto* u = sm->add_metrics();  // non-monotonic cumulative: a gauge without _total
  u->set_name("queue.size");
  u->mutable_sum()->set_aggregation_temporality(mpb::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* up = u->mutable_sum()->add_data_points();
  up->set_time_unix_nano(kTs);
  up->set_as_int(-3);

  auto* h = sm->add_metrics();
  h->set_name("http.server.duration");
  h->set_unit("s");
  h->mutable_histogram()->set_aggregation_temporality(mpb::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* hp = h->mutable_histogram()->add_data_points();
  hp->set_time_unix_nano(kTs);
  hp->set_count(6);
  hp->set_sum(4.5);
  hp->add_explicit_bounds(0.1);
  hp->add_explicit_bounds(1);
  hp->add_bucket_counts(1);
  hp->add_bucket_counts(2);
  hp->add_bucket_counts(3);

  auto* q = sm->add_metrics();
  q->set_name("rpc.latency");
  q->set_unit("ms");
  auto* qp = q->mutable_summary()->add_data_points();
  qp->set_time_unix_nano(kTs);
  qp->set_count(10);
  qp->set_sum(123);
  auto* q50 = qp->add_quantile_values();
  q50->set_quantile(0.5);
  q50->set_value(11);
  auto* q99 = qp->add_quantile_values();
  q99->set_quantile(0.99);
  q99->set_value(40);

  auto* e = sm->add_metrics();  // exponential histogram: dropped
  e->set_name("exp");
  e->mutable_exponential_histogram()->add_data_points()->set_count(1);
  return req;
}

std::vector<std::string> render(const ConvertResult& r) {
  std::vector<std::string> out;
  for (const auto& s : r.batch.samples()) {
    std::string line = "{";
    for (const auto& [k, v] : s.labels) strAppend(&line, k, "=\"", v, "\",");
    line.back() = '}';
    char buf[64];
    snprintf(buf, sizeof(buf), " %g @%lld", s.value, static_cast<long long>(s.timestamp_ms));
    out.push_back(line + buf);
  }
  return out;
}

ConvertResult convert(const col::ExportMetricsServiceRequest& req, ConvertOptions opts = {}) {
  opts.now_ms = kNow;
  auto r = convertMetrics(req.SerializeAsString(), opts);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : ConvertResult{};
}

TEST(PrometheusConvert, GoldenDefaults) {
  auto r = convert(fullRequest());
  const std::string sc =
      "instance=\"i-1\",job=\"shop/e2e-svc\",otel_scope_name=\"lib\","
      "otel_scope_version=\"1.0\"";
  std::vector<std::string> want = {
      "{__name__=\"target_info\",host_name=\"h1\",instance=\"i-1\",job=\"shop/e2e-svc\"} 1 @" +
          std::to_string(kNow),
      "{__name__=\"process_memory_usage_bytes\"," + sc + ",pool_name=\"heap\"} 2048 @1700000000123",
      "{__name__=\"http_requests_total\",http_method=\"GET\"," + sc + "} 17.5 @1700000000123",
      "{__name__=\"queue_size\"," + sc + "} -3 @1700000000123",
      "{__name__=\"http_server_duration_seconds_sum\"," + sc + "} 4.5 @1700000000123",
      "{__name__=\"http_server_duration_seconds_count\"," + sc + "} 6 @1700000000123",
      "{__name__=\"http_server_duration_seconds_bucket\",instance=\"i-1\",job=\"shop/e2e-svc\","
      "le=\"0.1\",otel_scope_name=\"lib\",otel_scope_version=\"1.0\"} 1 @1700000000123",
      "{__name__=\"http_server_duration_seconds_bucket\",instance=\"i-1\",job=\"shop/e2e-svc\","
      "le=\"1\",otel_scope_name=\"lib\",otel_scope_version=\"1.0\"} 3 @1700000000123",
      "{__name__=\"http_server_duration_seconds_bucket\",instance=\"i-1\",job=\"shop/e2e-svc\","
      "le=\"+Inf\",otel_scope_name=\"lib\",otel_scope_version=\"1.0\"} 6 @1700000000123",
      "{__name__=\"rpc_latency_milliseconds_sum\"," + sc + "} 123 @1700000000123",
      "{__name__=\"rpc_latency_milliseconds_count\"," + sc + "} 10 @1700000000123",
      "{__name__=\"rpc_latency_milliseconds\"," + sc + ",quantile=\"0.5\"} 11 @1700000000123",
      "{__name__=\"rpc_latency_milliseconds\"," + sc + ",quantile=\"0.99\"} 40 @1700000000123",
  };
  EXPECT_EQ(render(r), want);
  EXPECT_EQ(r.dropped_delta, 2u);
  EXPECT_EQ(r.dropped_exponential, 1u);
  for (const auto& s : r.batch.samples()) {
    EXPECT_TRUE(std::is_sorted(s.labels.begin(), s.labels.end()));
  }
}

TEST(PrometheusConvert, Options) {
  ConvertOptions o;
  o.include_target_info = false;
  o.include_scope_labels = false;
  o.include_scope_info = true;
  o.resource_to_telemetry_conversion = true;
  o.add_metric_suffixes = false;
  auto req = fullRequest();
  auto* sm = req.mutable_resource_metrics(0)->mutable_scope_metrics(0);
  kv(sm->mutable_scope()->mutable_attributes(), "scope.attr", "v");
  sm->mutable_metrics()->DeleteSubrange(1, sm->metrics_size() - 1);  // keep the gauge
  auto r = convert(req, o);
  std::vector<std::string> want = {
      "{__name__=\"otel_scope_info\",instance=\"i-1\",job=\"shop/e2e-svc\",otel_scope_name=\"lib\","
      "otel_scope_version=\"1.0\",scope_attr=\"v\"} 1 @" +
          std::to_string(kNow),
      "{__name__=\"process_memory_usage\",host_name=\"h1\",instance=\"i-1\",job=\"shop/e2e-svc\","
      "pool_name=\"heap\"} 2048 @1700000000123",
  };
  EXPECT_EQ(render(r), want);
}

TEST(PrometheusConvert, JobWithoutNamespaceStaleMarkerAndMissingTimestamp) {
  col::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  kv(rm->mutable_resource()->mutable_attributes(), "service.name", "svc");
  auto* m = rm->add_scope_metrics()->add_metrics();
  m->set_name("g");
  auto* p1 = m->mutable_gauge()->add_data_points();
  p1->set_as_double(1);  // no timestamp: now
  kv(p1->mutable_attributes(), "job", "overridden");
  auto* p2 = m->mutable_gauge()->add_data_points();
  p2->set_time_unix_nano(kTs);
  p2->set_flags(1);  // no recorded value
  auto r = convert(req);
  ASSERT_EQ(r.batch.sampleCount(), 3u);
  EXPECT_EQ(render(r)[0], "{__name__=\"target_info\",job=\"svc\"} 1 @" + std::to_string(kNow));
  EXPECT_EQ(render(r)[1], "{__name__=\"g\",job=\"svc\"} 1 @" + std::to_string(kNow));
  EXPECT_EQ(std::bit_cast<uint64_t>(r.batch.samples()[2].value), 0x7ff0000000000002ull);
}

TEST(PrometheusConvert, NamespaceWithoutServiceNameGivesNoJob) {
  col::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  kv(rm->mutable_resource()->mutable_attributes(), "service.namespace", "ns");
  auto* m = rm->add_scope_metrics()->add_metrics();
  m->set_name("g");
  m->mutable_gauge()->add_data_points()->set_time_unix_nano(kTs);
  ConvertOptions o;
  o.include_target_info = false;
  EXPECT_EQ(render(convert(req, o)), std::vector<std::string>{"{__name__=\"g\"} 0 @1700000000123"});
}

TEST(PrometheusConvert, InvalidNamesAndEmptyKeysAreNotSent) {
  col::ExportMetricsServiceRequest req;
  auto* sm = req.add_resource_metrics()->add_scope_metrics();
  auto* bad = sm->add_metrics();
  bad->set_name("...");
  bad->mutable_gauge()->add_data_points()->set_as_int(1);
  bad->mutable_gauge()->add_data_points()->set_as_int(2);
  auto* ok = sm->add_metrics();
  ok->set_name("ok");
  auto* p = ok->mutable_gauge()->add_data_points();
  p->set_time_unix_nano(kTs);
  kv(p->mutable_attributes(), "", "v");
  ConvertOptions o;
  o.include_target_info = false;
  auto r = convert(req, o);
  EXPECT_EQ(render(r), std::vector<std::string>{"{__name__=\"ok\"} 0 @1700000000123"});
  EXPECT_EQ(r.dropped_invalid, 2u);
}

TEST(PrometheusConvert, Malformed) {
  auto r = convertMetrics("\xff\xff\xff", ConvertOptions{});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

class Recorder : public prometheus::Appendable {
 public:
  absl::Status append(prometheus::SeriesBatch&& b) override {
    if (!answer.ok()) return answer;
    auto s = b.samples();
    got.insert(got.end(), s.begin(), s.end());
    return absl::OkStatus();
  }
  bool durable() const override { return wal; }
  absl::Status answer = absl::OkStatus();
  bool wal = false;
  std::vector<prometheus::Sample> got;
};

TEST(PrometheusConsumerTest, DurableWhenEveryReceiverKeepsAWal) {
  metrics::Registry reg;
  PrometheusConsumer c("otelcol.exporter.prometheus.t", reg, log::Logger{});
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  Arguments args;
  args.forward_to = {{a}, {b}};
  c.configure(args);
  a->wal = true;
  EXPECT_FALSE(c.durable(pdata::Signal::kMetrics));
  b->wal = true;
  EXPECT_TRUE(c.durable(pdata::Signal::kMetrics));
  EXPECT_FALSE(c.durable(pdata::Signal::kLogs));
}

TEST(PrometheusConsumerTest, ForwardsAndPassesRefusalsThrough) {
  metrics::Registry reg;
  PrometheusConsumer c("otelcol.exporter.prometheus.t", reg, log::Logger{});
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  Arguments args;
  args.forward_to = {{a}, {b}};
  c.configure(args);
  EXPECT_TRUE(c.acceptsSignal(pdata::Signal::kMetrics));
  EXPECT_FALSE(c.acceptsSignal(pdata::Signal::kLogs));
  pdata::Batch logs;
  logs.signal = pdata::Signal::kLogs;
  EXPECT_EQ(c.consume(std::move(logs)).code(), absl::StatusCode::kUnimplemented);

  pdata::Batch batch;
  batch.signal = pdata::Signal::kMetrics;
  batch.payload = fullRequest().SerializeAsString();
  batch.items = 9;
  ASSERT_TRUE(c.consume(std::move(batch)).ok());
  EXPECT_EQ(a->got.size(), 13u);
  EXPECT_EQ(b->got.size(), 13u);

  b->answer = absl::ResourceExhaustedError("full");
  pdata::Batch again;
  again.signal = pdata::Signal::kMetrics;
  again.payload = fullRequest().SerializeAsString();
  EXPECT_EQ(c.consume(std::move(again)).code(), absl::StatusCode::kResourceExhausted);

  pdata::Batch bad;
  bad.signal = pdata::Signal::kMetrics;
  bad.payload = "\xff\xff";
  EXPECT_EQ(c.consume(std::move(bad)).code(), absl::StatusCode::kInvalidArgument);
  std::string text = reg.exposition();
  EXPECT_NE(text.find("telegate_otelcol_exporter_prometheus_dropped_points_total{component_id="
                      "\"otelcol.exporter.prometheus.t\",reason=\"delta_temporality\"} 4"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace telegate::otelcol::exporter_prometheus
