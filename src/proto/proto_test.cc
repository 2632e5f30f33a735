// Wire-format checks for the telegate .proto definitions: hand-computed byte
// strings, OTLP/JSON parsing, and gRPC service names.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "loki/push.grpc.pb.h"
#include "loki/push.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "prometheus/remote.pb.h"
#include "prometheus/types.pb.h"

namespace {

namespace collogs = opentelemetry::proto::collector::logs::v1;
namespace colmetrics = opentelemetry::proto::collector::metrics::v1;
namespace coltrace = opentelemetry::proto::collector::trace::v1;
namespace otlogs = opentelemetry::proto::logs::v1;
namespace otmetrics = opentelemetry::proto::metrics::v1;
namespace ottrace = opentelemetry::proto::trace::v1;

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

std::string Hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

// resource {service.name=django-app}, one log record {time=1, body "hi"}.
std::string ExpectedLogsBytes() {
  std::string logrecord = Bytes({0x09, 1, 0, 0, 0, 0, 0, 0, 0,  // time_unix_nano fixed64
                                 0x2A, 0x04, 0x0A, 0x02}) +
                          "hi";                              // body{string_value}
  std::string scope_logs = Bytes({0x12, 0x0F}) + logrecord;  // log_records
  std::string any = Bytes({0x0A, 0x0A}) + "django-app";
  std::string kv = Bytes({0x0A, 0x0C}) + "service.name" + Bytes({0x12, 0x0C}) + any;
  std::string resource = Bytes({0x0A, 0x1C}) + kv;  // attributes
  std::string rl = Bytes({0x0A, 0x1E}) + resource + Bytes({0x12, 0x11}) + scope_logs;
  std::string req = Bytes({0x0A, 0x33}) + rl;  // resource_logs
  EXPECT_EQ(req.size(), 53u);
  return req;
}

TEST(ProtoWire, ExportLogsServiceRequestHandEncoded) {
  collogs::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  auto* kv = rl->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("django-app");
  auto* rec = rl->add_scope_logs()->add_log_records();
  rec->set_time_unix_nano(1);
  rec->mutable_body()->set_string_value("hi");

  const std::string want = ExpectedLogsBytes();
  EXPECT_EQ(Hex(req.SerializeAsString()), Hex(want));

  collogs::ExportLogsServiceRequest back;
  ASSERT_TRUE(back.ParseFromString(want));
  ASSERT_EQ(back.resource_logs_size(), 1);
  const auto& r = back.resource_logs(0);
  EXPECT_EQ(r.resource().attributes(0).key(), "service.name");
  EXPECT_EQ(r.resource().attributes(0).value().string_value(), "django-app");
  EXPECT_EQ(r.scope_logs(0).log_records(0).time_unix_nano(), 1u);
  EXPECT_EQ(r.scope_logs(0).log_records(0).body().string_value(), "hi");
}

TEST(ProtoWire, LogRecordEventNameAndFlags) {
  otlogs::LogRecord rec;
  rec.set_flags(1);                                       // fixed32 field 8 -> tag 0x45
  rec.set_event_name("e");                                // string field 12 -> tag 0x62
  rec.set_severity_number(otlogs::SEVERITY_NUMBER_INFO);  // varint field 2
  EXPECT_EQ(Hex(rec.SerializeAsString()),
            Hex(Bytes({0x10, 0x09, 0x45, 1, 0, 0, 0, 0x62, 0x01, 'e'})));
}

TEST(ProtoWire, SpanFlagsAndIds) {
  ottrace::Span span;
  span.set_trace_id(std::string(16, '\x01'));
  span.set_flags(0x301);  // field 16 fixed32 -> two-byte tag 0x85 0x01
  span.set_kind(ottrace::Span::SPAN_KIND_SERVER);
  std::string want = Bytes({0x0A, 0x10}) + std::string(16, '\x01') + Bytes({0x30, 0x02}) +
                     Bytes({0x85, 0x01, 0x01, 0x03, 0x00, 0x00});
  EXPECT_EQ(Hex(span.SerializeAsString()), Hex(want));
  EXPECT_EQ(ottrace::SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK, 0x200);
}

TEST(ProtoWire, MetricsNumberAndHistogramPoints) {
  otmetrics::NumberDataPoint p;
  p.set_as_int(-1);  // sfixed64 field 6 -> tag 0x31
  EXPECT_EQ(Hex(p.SerializeAsString()),
            Hex(Bytes({0x31, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})));

  otmetrics::HistogramDataPoint h;
  h.set_sum(0);            // proto3 optional: explicit zero is serialized
  h.add_bucket_counts(2);  // packed fixed64 field 6
  EXPECT_EQ(Hex(h.SerializeAsString()),
            Hex(Bytes({0x29, 0, 0, 0, 0, 0, 0, 0, 0, 0x32, 0x08, 2, 0, 0, 0, 0, 0, 0, 0})));

  otmetrics::ExponentialHistogramDataPoint e;
  e.set_scale(-1);                       // sint32 zigzag -> 1
  e.mutable_positive()->set_offset(-2);  // zigzag -> 3
  EXPECT_EQ(Hex(e.SerializeAsString()), Hex(Bytes({0x30, 0x01, 0x42, 0x02, 0x08, 0x03})));

  otmetrics::Metric m;
  m.add_metadata()->set_key("k");  // field 12 -> tag 0x62
  EXPECT_EQ(Hex(m.SerializeAsString()), Hex(Bytes({0x62, 0x03, 0x0A, 0x01, 'k'})));
}

TEST(ProtoWire, LokiPushRequestHandEncoded) {
  logproto::PushRequest req;
  auto* s = req.add_streams();
  s->set_labels("{job=\"a\"}");
  auto* e = s->add_entries();
  e->mutable_timestamp()->set_seconds(1);
  e->mutable_timestamp()->set_nanos(2);
  e->set_line("x");
  std::string entry = Bytes({0x0A, 0x04, 0x08, 0x01, 0x10, 0x02, 0x12, 0x01, 'x'});
  std::string stream = Bytes({0x0A, 0x09}) + "{job=\"a\"}" + Bytes({0x12, 0x09}) + entry;
  std::string want = Bytes({0x0A, 0x16}) + stream;
  EXPECT_EQ(Hex(req.SerializeAsString()), Hex(want));

  logproto::EntryAdapter sm;
  auto* lp = sm.add_structuredmetadata();
  lp->set_name("a");
  lp->set_value("b");
  EXPECT_EQ(Hex(sm.SerializeAsString()),
            Hex(Bytes({0x1A, 0x06, 0x0A, 0x01, 'a', 0x12, 0x01, 'b'})));
}

TEST(ProtoWire, PrometheusWriteRequestHandEncoded) {
  prometheus::WriteRequest req;
  auto* ts = req.add_timeseries();
  auto* l = ts->add_labels();
  l->set_name("__name__");
  l->set_value("up");
  auto* smp = ts->add_samples();
  smp->set_value(1.0);
  smp->set_timestamp(1000);
  std::string label = Bytes({0x0A, 0x08}) + "__name__" + Bytes({0x12, 0x02}) + "up";
  std::string sample = Bytes({0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x10, 0xE8, 0x07});
  std::string series = Bytes({0x0A, 0x0E}) + label + Bytes({0x12, 0x0C}) + sample;
  std::string want = Bytes({0x0A, 0x1E}) + series;
  EXPECT_EQ(Hex(req.SerializeAsString()), Hex(want));

  prometheus::WriteRequest md;
  auto* m = md.add_metadata();
  m->set_type(prometheus::MetricMetadata::COUNTER);
  m->set_metric_family_name("f");
  m->set_help("h");
  m->set_unit("u");
  EXPECT_EQ(
      Hex(md.SerializeAsString()),
      Hex(Bytes({0x1A, 0x0B, 0x08, 0x01, 0x12, 0x01, 'f', 0x22, 0x01, 'h', 0x2A, 0x01, 'u'})));
}

TEST(ProtoWire, PrometheusNativeHistogram) {
  prometheus::Histogram h;
  h.set_count_int(5);
  h.set_schema(3);  // zigzag 6
  h.add_positive_deltas(1);
  h.add_positive_deltas(-1);  // packed sint64: 2, 1
  auto* sp = h.add_positive_spans();
  sp->set_offset(-1);  // zigzag 1
  sp->set_length(2);
  EXPECT_EQ(Hex(h.SerializeAsString()), Hex(Bytes({0x08, 0x05, 0x20, 0x06, 0x5A, 0x04, 0x08, 0x01,
                                                   0x10, 0x02, 0x62, 0x02, 0x02, 0x01})));
  EXPECT_EQ(h.count_case(), prometheus::Histogram::kCountInt);
  h.set_count_float(2.5);
  EXPECT_EQ(h.count_case(), prometheus::Histogram::kCountFloat);
}

TEST(ProtoWire, RpcStatusWithRetryInfo) {
  google::rpc::RetryInfo ri;
  ri.mutable_retry_delay()->set_seconds(5);
  google::rpc::Status st;
  st.set_code(14);
  st.set_message("x");
  st.add_details()->PackFrom(ri);
  google::rpc::Status back;
  ASSERT_TRUE(back.ParseFromString(st.SerializeAsString()));
  EXPECT_EQ(back.details(0).type_url(), "type.googleapis.com/google.rpc.RetryInfo");
  google::rpc::RetryInfo ri2;
  ASSERT_TRUE(back.details(0).UnpackTo(&ri2));
  EXPECT_EQ(ri2.retry_delay().seconds(), 5);
  EXPECT_EQ(Hex(ri.SerializeAsString()), Hex(Bytes({0x0A, 0x02, 0x08, 0x05})));
}

TEST(ProtoJson, OtlpLogsCurlPayload) {
  const char* json = R"({
    "resourceLogs": [{
      "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "django-app"}}]},
      "scopeLogs": [{
        "scope": {"name": "curl", "version": "1.0"},
        "logRecords": [{
          "timeUnixNano": "1700000000000000000",
          "observedTimeUnixNano": "1700000000000000001",
          "severityNumber": 9,
          "severityText": "INFO",
          "body": {"stringValue": "hello from curl"},
          "attributes": [{"key": "n", "value": {"intValue": "42"}}],
          "someFutureField": true
        }]
      }]
    }]
  })";
  collogs::ExportLogsServiceRequest req;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;  // OTLP/JSON receivers must ignore unknown fields
  auto st = google::protobuf::util::JsonStringToMessage(json, &req, opts);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(req.resource_logs_size(), 1);
  const auto& rl = req.resource_logs(0);
  EXPECT_EQ(rl.resource().attributes(0).value().string_value(), "django-app");
  EXPECT_EQ(rl.scope_logs(0).scope().name(), "curl");
  const auto& rec = rl.scope_logs(0).log_records(0);
  EXPECT_EQ(rec.time_unix_nano(), 1700000000000000000ull);
  EXPECT_EQ(rec.observed_time_unix_nano(), 1700000000000000001ull);
  EXPECT_EQ(rec.severity_number(), otlogs::SEVERITY_NUMBER_INFO);
  EXPECT_EQ(rec.severity_text(), "INFO");
  EXPECT_EQ(rec.body().string_value(), "hello from curl");
  EXPECT_EQ(rec.attributes(0).value().int_value(), 42);

  // snake_case names are accepted too, and enum names.
  collogs::ExportLogsServiceRequest req2;
  st = google::protobuf::util::JsonStringToMessage(
      R"({"resource_logs":[{"scope_logs":[{"log_records":[{"time_unix_nano":"1",
          "severity_number":"SEVERITY_NUMBER_WARN","body":{"string_value":"hi"}}]}]}]})",
      &req2);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(req2.resource_logs(0).scope_logs(0).log_records(0).severity_number(),
            otlogs::SEVERITY_NUMBER_WARN);
}

TEST(ProtoJson, JsonFieldNamesMatchOtlp) {
  const auto* d = otlogs::LogRecord::descriptor();
  EXPECT_EQ(d->FindFieldByName("time_unix_nano")->json_name(), "timeUnixNano");
  EXPECT_EQ(d->FindFieldByName("event_name")->json_name(), "eventName");
  EXPECT_EQ(logproto::EntryAdapter::descriptor()->FindFieldByNumber(3)->name(),
            "structuredMetadata");
  EXPECT_EQ(otmetrics::ExponentialHistogramDataPoint::descriptor()
                ->FindFieldByName("zero_threshold")
                ->json_name(),
            "zeroThreshold");
}

TEST(ProtoGrpc, ServiceFullNames) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const google::protobuf::ServiceDescriptor* logs =
      collogs::ExportLogsServiceRequest::descriptor()->file()->FindServiceByName("LogsService");
  const google::protobuf::ServiceDescriptor* metrics =
      colmetrics::ExportMetricsServiceRequest::descriptor()->file()->FindServiceByName(
          "MetricsService");
  const google::protobuf::ServiceDescriptor* trace =
      coltrace::ExportTraceServiceRequest::descriptor()->file()->FindServiceByName("TraceService");
  ASSERT_NE(logs, nullptr);
  ASSERT_NE(metrics, nullptr);
  ASSERT_NE(trace, nullptr);
  EXPECT_EQ(logs->full_name(), "opentelemetry.proto.collector.logs.v1.LogsService");
  EXPECT_EQ(metrics->full_name(), "opentelemetry.proto.collector.metrics.v1.MetricsService");
  EXPECT_EQ(trace->full_name(), "opentelemetry.proto.collector.trace.v1.TraceService");
  for (const google::protobuf::ServiceDescriptor* s : {logs, metrics, trace}) {
    ASSERT_EQ(s->method_count(), 1);
    EXPECT_EQ(s->method(0)->name(), "Export");
    EXPECT_FALSE(s->method(0)->client_streaming());
    EXPECT_FALSE(s->method(0)->server_streaming());
  }
  EXPECT_EQ(logs->method(0)->input_type()->full_name(),
            "opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest");
  EXPECT_EQ(pool->FindServiceByName("opentelemetry.proto.collector.logs.v1.LogsService"), logs);
  const auto* pusher = pool->FindServiceByName("logproto.Pusher");
  ASSERT_NE(pusher, nullptr);
  EXPECT_EQ(pusher->method(0)->name(), "Push");
  EXPECT_EQ(pusher->method(0)->input_type()->full_name(), "logproto.PushRequest");
  // The names the generated gRPC stubs register (path /<service>/Export).
  EXPECT_STREQ(collogs::LogsService::service_full_name(),
               "opentelemetry.proto.collector.logs.v1.LogsService");
  EXPECT_STREQ(colmetrics::MetricsService::service_full_name(),
               "opentelemetry.proto.collector.metrics.v1.MetricsService");
  EXPECT_STREQ(coltrace::TraceService::service_full_name(),
               "opentelemetry.proto.collector.trace.v1.TraceService");
  EXPECT_STREQ(logproto::Pusher::service_full_name(), "logproto.Pusher");
}

TEST(ProtoWire, UnknownFieldsSurviveRoundTrip) {
  // A field number we don't define (e.g. a future OTLP addition) must round-trip.
  std::string in = Bytes({0xF8, 0x01, 0x07});  // field 31 varint 7
  otlogs::LogRecord rec;
  ASSERT_TRUE(rec.ParseFromString(in));
  EXPECT_EQ(Hex(rec.SerializeAsString()), Hex(in));
}

}  // namespace
