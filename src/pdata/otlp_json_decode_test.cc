// Tests for otlpJsonToWire(): round trips through toOtlpJson() on random messages, and hand-written
// OTLP/JSON bodies for the encoding rules (snake_case, enum names, 64-bit integers as strings,
// hex ids, base64 bytes, unknown fields, null, limits, invalid JSON).
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/common/strings.h"
#include "src/pdata/otlp_decode.h"
#include "src/pdata/otlp_json.h"
#include "src/pdata/otlp_test_support.h"

namespace telegate::pdata {

namespace {

namespace col_logs = opentelemetry::proto::collector::logs::v1;
namespace col_metrics = opentelemetry::proto::collector::metrics::v1;
namespace col_trace = opentelemetry::proto::collector::trace::v1;
namespace common = opentelemetry::proto::common::v1;
namespace logs = opentelemetry::proto::logs::v1;
namespace trace = opentelemetry::proto::trace::v1;
using google::protobuf::util::MessageDifferencer;

constexpr Signal kSignals[] = {Signal::kLogs, Signal::kTraces, Signal::kMetrics};

template <class M>
M decode(Signal s, std::string_view json, uint64_t* items = nullptr) {
  auto r = otlpJsonToWire(s, json);
  EXPECT_TRUE(r.ok()) << r.status() << "\n" << json;
  M m;
  if (!r.ok()) return m;
  EXPECT_TRUE(m.ParseFromString(r->wire));
  if (items) *items = r->items;
  return m;
}
logs::LogRecord decodeRecord(std::string_view record_json) {
  auto req = decode<col_logs::ExportLogsServiceRequest>(
      Signal::kLogs,
      strCat(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[)", record_json, "]}]}]}"));
  if (req.resource_logs_size() != 1 || req.resource_logs(0).scope_logs_size() != 1 ||
      req.resource_logs(0).scope_logs(0).log_records_size() != 1) {
    ADD_FAILURE() << "no record decoded from " << record_json;
    return {};
  }
  return req.resource_logs(0).scope_logs(0).log_records(0);
}
std::string errorOf(Signal s, std::string_view json) {
  auto r = otlpJsonToWire(s, json);
  EXPECT_FALSE(r.ok()) << json;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}
std::string recordJson(std::string_view record) {
  return strCat(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[)", record, "]}]}]}");
}

TEST(OtlpJsonToWireTest, SeedExample) {
  uint64_t items = 0;
  auto req = decode<col_logs::ExportLogsServiceRequest>(
      Signal::kLogs,
      R"({"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{)"
      R"("stringValue":"django-app"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":)"
      R"("1700000000000000000","body":{"stringValue":"Application log message"}}]}]}]})",
      &items);
  EXPECT_EQ(items, 1u);
  ASSERT_EQ(req.resource_logs_size(), 1);
  const auto& rl = req.resource_logs(0);
  ASSERT_EQ(rl.resource().attributes_size(), 1);
  EXPECT_EQ(rl.resource().attributes(0).key(), "service.name");
  EXPECT_EQ(rl.resource().attributes(0).value().string_value(), "django-app");
  const auto& rec = rl.scope_logs(0).log_records(0);
  EXPECT_EQ(rec.time_unix_nano(), 1700000000000000000u);
  EXPECT_EQ(rec.body().string_value(), "Application log message");
}

TEST(OtlpJsonToWireTest, EmptyObjectIsAnEmptyRequest) {
  for (Signal s : kSignals) {
    auto r = otlpJsonToWire(s, " {} ");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->wire, "");
    EXPECT_EQ(r->items, 0u);
  }
}

TEST(OtlpJsonToWireTest, RoundTripsRandomMessages) {
  std::mt19937_64 rng(11);
  for (Signal s : kSignals) {
    for (int i = 0; i < 300; ++i) {
      auto msg = test_support::randomRequest(s, rng, 4);
      auto json = toOtlpJson(s, msg->SerializeAsString());
      ASSERT_TRUE(json.ok()) << json.status();
      auto r = otlpJsonToWire(s, *json);
      ASSERT_TRUE(r.ok()) << r.status() << "\n" << *json;
      auto back = test_support::newRequest(s);
      ASSERT_TRUE(back->ParseFromString(r->wire));
      std::string diff;
      MessageDifferencer d;
      d.ReportDifferencesToString(&diff);
      EXPECT_TRUE(d.Compare(*msg, *back)) << diff << "\n" << *json;
      EXPECT_EQ(r->items, test_support::expectedItems(s, *msg));
    }
  }
}

TEST(OtlpJsonToWireTest, RoundTripsLargeMessages) {
  // Nested lengths of 2 and 3 varint bytes.
  col_logs::ExportLogsServiceRequest req;
  auto* sl = req.add_resource_logs()->add_scope_logs();
  for (int i = 0; i < 2000; ++i) {
    auto* r = sl->add_log_records();
    r->mutable_body()->set_string_value(std::string(static_cast<size_t>(i % 300), 'x'));
    r->set_time_unix_nano(static_cast<uint64_t>(i) * 1000003);
  }
  auto json = toOtlpJson(Signal::kLogs, req.SerializeAsString());
  ASSERT_TRUE(json.ok());
  auto r = otlpJsonToWire(Signal::kLogs, *json);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->items, 2000u);
  EXPECT_EQ(r->wire, req.SerializeAsString());  // same canonical encoding as protobuf
}

TEST(OtlpJsonToWireTest, AcceptsSnakeCaseNames) {
  auto req =
      decode<col_trace::ExportTraceServiceRequest>(Signal::kTraces,
                                                   R"({"resource_spans":[{"scope_spans":[{"spans":[{
          "trace_id":"0102030405060708090A0B0C0D0E0F10","span_id":"a1a2a3a4a5a6a7a8",
          "parent_span_id":"","start_time_unix_nano":"5","end_time_unix_nano":6,
          "dropped_attributes_count":2,"status":{"code":"STATUS_CODE_ERROR","message":"boom"},
          "links":[{"trace_id":"00000000000000000000000000000001","span_id":"0000000000000002",
                    "trace_state":"x=y"}]}],"schema_url":"u"}]}]})");
  ASSERT_EQ(req.resource_spans_size(), 1);
  const auto& ss = req.resource_spans(0).scope_spans(0);
  EXPECT_EQ(ss.schema_url(), "u");
  const auto& span = ss.spans(0);
  EXPECT_EQ(span.trace_id(), std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d"
                                         "\x0e\x0f\x10"));
  EXPECT_EQ(span.span_id(), "\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8");
  EXPECT_EQ(span.parent_span_id(), "");
  EXPECT_EQ(span.start_time_unix_nano(), 5u);
  EXPECT_EQ(span.end_time_unix_nano(), 6u);
  EXPECT_EQ(span.dropped_attributes_count(), 2u);
  EXPECT_EQ(span.status().code(), trace::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(span.status().message(), "boom");
  ASSERT_EQ(span.links_size(), 1);
  EXPECT_EQ(span.links(0).trace_state(), "x=y");
  EXPECT_EQ(span.links(0).span_id(), std::string("\0\0\0\0\0\0\0\x02", 8));
}

TEST(OtlpJsonToWireTest, EnumsAsNamesOrNumbers) {
  EXPECT_EQ(decodeRecord(R"({"severityNumber":"SEVERITY_NUMBER_WARN"})").severity_number(),
            logs::SEVERITY_NUMBER_WARN);
  EXPECT_EQ(decodeRecord(R"({"severityNumber":17})").severity_number(),
            logs::SEVERITY_NUMBER_ERROR);
  EXPECT_EQ(decodeRecord(R"({"severityNumber":"9"})").severity_number(),
            logs::SEVERITY_NUMBER_INFO);
  // Open enums: unknown numbers are kept.
  EXPECT_EQ(static_cast<int>(decodeRecord(R"({"severityNumber":99})").severity_number()), 99);
  auto m = decode<col_metrics::ExportMetricsServiceRequest>(
      Signal::kMetrics,
      R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[
          {"sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,
                  "dataPoints":[{"asInt":"3"}]}},
          {"histogram":{"aggregation_temporality":1,"dataPoints":[{"count":"2"}]}}]}]}]})");
  const auto& metrics = m.resource_metrics(0).scope_metrics(0).metrics();
  EXPECT_EQ(metrics[0].sum().aggregation_temporality(),
            opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  EXPECT_TRUE(metrics[0].sum().is_monotonic());
  EXPECT_EQ(metrics[1].histogram().aggregation_temporality(),
            opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_DELTA);
  auto t = decode<col_trace::ExportTraceServiceRequest>(
      Signal::kTraces,
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_CLIENT"},{"kind":4}]}]}]})");
  EXPECT_EQ(t.resource_spans(0).scope_spans(0).spans(0).kind(), trace::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(t.resource_spans(0).scope_spans(0).spans(1).kind(), trace::Span::SPAN_KIND_PRODUCER);
  EXPECT_NE(errorOf(Signal::kLogs, recordJson(R"({"severityNumber":"LOUD"})"))
                .find("unknown enum value \"LOUD\""),
            std::string::npos);
  EXPECT_NE(
      errorOf(Signal::kLogs, recordJson(R"({"severityNumber":4294967296})")).find("out of range"),
      std::string::npos);
}

TEST(OtlpJsonToWireTest, IntegersAsStringsOrNumbers) {
  auto r = decodeRecord(
      R"({"timeUnixNano":1700000000000000000,"observedTimeUnixNano":"18446744073709551615",
                           "droppedAttributesCount":"7","flags":4294967295,
                           "attributes":[{"key":"a","value":{"intValue":"-9223372036854775808"}},
                                         {"key":"b","value":{"intValue":42}},
                                         {"key":"c","value":{"intValue":1e3}},
                                         {"key":"d","value":{"intValue":"0"}}]})");
  EXPECT_EQ(r.time_unix_nano(), 1700000000000000000u);
  EXPECT_EQ(r.observed_time_unix_nano(), UINT64_MAX);
  EXPECT_EQ(r.dropped_attributes_count(), 7u);
  EXPECT_EQ(r.flags(), UINT32_MAX);
  ASSERT_EQ(r.attributes_size(), 4);
  EXPECT_EQ(r.attributes(0).value().int_value(), INT64_MIN);
  EXPECT_EQ(r.attributes(1).value().int_value(), 42);
  EXPECT_EQ(r.attributes(2).value().int_value(), 1000);
  EXPECT_EQ(r.attributes(3).value().value_case(), common::AnyValue::kIntValue);

  const char* bad[] = {
      R"({"timeUnixNano":"18446744073709551616"})",  // > uint64
      R"({"timeUnixNano":"-1"})",
      R"({"timeUnixNano":1e20})",
      R"({"timeUnixNano":100000000000000000000})",
      R"({"droppedAttributesCount":-1})",
      R"({"droppedAttributesCount":4294967296})",
      R"({"flags":"4294967296"})",
      R"({"attributes":[{"key":"a","value":{"intValue":"9223372036854775808"}}]})",
      R"({"attributes":[{"key":"a","value":{"intValue":1.5}}]})",
      R"({"attributes":[{"key":"a","value":{"intValue":"12abc"}}]})",
      R"({"attributes":[{"key":"a","value":{"intValue":""}}]})",
      R"({"attributes":[{"key":"a","value":{"intValue":true}}]})",
  };
  for (const char* b : bad) {
    std::string e = errorOf(Signal::kLogs, recordJson(b));
    EXPECT_TRUE(e.find("integer") != std::string::npos || e.find("range") != std::string::npos ||
                e.find("number") != std::string::npos)
        << b << " -> " << e;
  }
}

TEST(OtlpJsonToWireTest, DoublesIncludingSpecialValues) {
  auto m = decode<col_metrics::ExportMetricsServiceRequest>(
      Signal::kMetrics,
      R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[
          {"asDouble":"NaN"},{"asDouble":"Infinity"},{"asDouble":"-Infinity"},{"asDouble":2},
          {"asDouble":"1.25"},{"asDouble":-0.5e-3},{"asDouble":0}]}},
          {"histogram":{"dataPoints":[{"sum":0,"explicitBounds":[1,"2.5","Infinity"],
                                       "bucketCounts":["1",2,3,"4"]}]}}]}]}]})");
  const auto& pts = m.resource_metrics(0).scope_metrics(0).metrics(0).gauge().data_points();
  ASSERT_EQ(pts.size(), 7);
  EXPECT_TRUE(std::isnan(pts[0].as_double()));
  EXPECT_EQ(pts[1].as_double(), INFINITY);
  EXPECT_EQ(pts[2].as_double(), -INFINITY);
  EXPECT_EQ(pts[3].as_double(), 2.0);
  EXPECT_EQ(pts[4].as_double(), 1.25);
  EXPECT_EQ(pts[5].as_double(), -0.5e-3);
  EXPECT_EQ(pts[6].value_case(), opentelemetry::proto::metrics::v1::NumberDataPoint::kAsDouble);
  const auto& h = m.resource_metrics(0).scope_metrics(0).metrics(1).histogram().data_points(0);
  EXPECT_TRUE(h.has_sum());  // proto3 optional: an explicit 0 is present
  EXPECT_FALSE(h.has_min());
  ASSERT_EQ(h.explicit_bounds_size(), 3);
  EXPECT_EQ(h.explicit_bounds(1), 2.5);
  EXPECT_EQ(h.explicit_bounds(2), INFINITY);
  ASSERT_EQ(h.bucket_counts_size(), 4);
  EXPECT_EQ(h.bucket_counts(3), 4u);
  for (const char* bad : {R"("nan")", R"("1.5x")", R"("")", R"(true)", R"("1e999")", R"([])"}) {
    std::string e = errorOf(Signal::kMetrics,
                            strCat(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":)",
                                   R"({"dataPoints":[{"asDouble":)", bad, "}]}}]}]}]}"));
    EXPECT_NE(e.find("number"), std::string::npos) << bad << " -> " << e;
  }
}

TEST(OtlpJsonToWireTest, AnyValueKinds) {
  auto r = decodeRecord(R"({"body":{"kvlistValue":{"values":[
      {"key":"s","value":{"stringValue":""}},
      {"key":"b","value":{"boolValue":false}},
      {"key":"d","value":{"doubleValue":0}},
      {"key":"y","value":{"bytesValue":"aGVsbG8="}},
      {"key":"y2","value":{"bytesValue":"_-8"}},
      {"key":"y3","value":{"bytesValue":""}},
      {"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"x"},{}]}}},
      {"key":"n","value":null},
      {"key":"e","value":{}}]}}})");
  const auto& kvs = r.body().kvlist_value().values();
  ASSERT_EQ(kvs.size(), 9);
  EXPECT_EQ(kvs[0].value().value_case(), common::AnyValue::kStringValue);
  EXPECT_EQ(kvs[1].value().value_case(), common::AnyValue::kBoolValue);
  EXPECT_EQ(kvs[2].value().value_case(), common::AnyValue::kDoubleValue);
  EXPECT_EQ(kvs[3].value().bytes_value(), "hello");
  EXPECT_EQ(kvs[4].value().bytes_value(), "\xff\xef");
  EXPECT_EQ(kvs[5].value().value_case(), common::AnyValue::kBytesValue);
  EXPECT_EQ(kvs[6].value().array_value().values_size(), 3);
  EXPECT_EQ(kvs[6].value().array_value().values(2).value_case(), common::AnyValue::VALUE_NOT_SET);
  EXPECT_FALSE(kvs[7].has_value());
  EXPECT_TRUE(kvs[8].has_value());
  EXPECT_NE(errorOf(Signal::kLogs, recordJson(R"({"body":{"bytesValue":"a"}})")).find("base64"),
            std::string::npos);
  EXPECT_NE(errorOf(Signal::kLogs, recordJson(R"({"body":{"bytesValue":"a*=="}})")).find("base64"),
            std::string::npos);
}

TEST(OtlpJsonToWireTest, IgnoresUnknownFieldsAndNulls) {
  uint64_t items = 0;
  auto req = decode<col_logs::ExportLogsServiceRequest>(
      Signal::kLogs,
      R"({"extra":{"deep":[1,2,{"x":[[[]]]}]},"resourceLogs":[{"resource":null,"foo":1,
          "scopeLogs":[{"scope":{"name":"lib","unknown":"x"},"logRecords":[
             {"body":null,"traceId":null,"whatever":[{"a":"b"}],"severityText":"INFO"},null]}]}]})",
      &items);
  EXPECT_EQ(items, 2u);  // a null array element is an empty record (as the Go collector does)
  const auto& rl = req.resource_logs(0);
  EXPECT_FALSE(rl.has_resource());
  EXPECT_EQ(rl.scope_logs(0).scope().name(), "lib");
  EXPECT_FALSE(rl.scope_logs(0).log_records(0).has_body());
  EXPECT_EQ(rl.scope_logs(0).log_records(0).severity_text(), "INFO");
}

TEST(OtlpJsonToWireTest, RejectsBadIds) {
  EXPECT_NE(
      errorOf(Signal::kLogs, recordJson(R"({"traceId":"0102"})")).find("invalid length for ID"),
      std::string::npos);
  EXPECT_NE(errorOf(Signal::kLogs, recordJson(R"({"spanId":"zz02030405060708"})")).find("hex"),
            std::string::npos);
  // Base64 (proto3 JSON's default for bytes) is not accepted for ids.
  EXPECT_NE(errorOf(Signal::kLogs, recordJson(R"({"traceId":"AQIDBAUGBwgJCgsMDQ4PEA=="})"))
                .find("invalid length for ID"),
            std::string::npos);
  EXPECT_NE(errorOf(Signal::kLogs, recordJson(R"({"traceId":12})")).find("expected a hex string"),
            std::string::npos);
  auto r = decodeRecord(R"({"traceId":"ABCDEFabcdef00112233445566778899","spanId":""})");
  EXPECT_EQ(r.trace_id().size(), 16u);
  EXPECT_EQ(r.span_id(), "");
}

TEST(OtlpJsonToWireTest, ErrorsNameThePath) {
  std::string e = errorOf(
      Signal::kLogs,
      R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{},{"attributes":[{"key":5}]}]}]}]})");
  EXPECT_EQ(e, "expected a string at resourceLogs[0].scopeLogs[0].logRecords[1].attributes[0].key");
  e = errorOf(Signal::kLogs, R"({"resourceLogs":{}})");
  EXPECT_EQ(e, "expected a JSON array at resourceLogs");
  e = errorOf(Signal::kLogs, R"({"resourceLogs":[5]})");
  EXPECT_EQ(e, "expected a JSON object for ResourceLogs at resourceLogs[0]");
}

TEST(OtlpJsonToWireTest, RejectsInvalidJson) {
  for (const char* bad : {"", "{", "[]", "42", R"({"resourceLogs":[}])", "{\"a\":\"\xff\"}",
                          R"({"resourceLogs":[]} x)", R"({"a":"\ud800"})"}) {
    auto r = otlpJsonToWire(Signal::kLogs, bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  }
  std::string e = errorOf(Signal::kLogs, "{");
  EXPECT_EQ(e.rfind("invalid JSON: ", 0), 0u) << e;
  EXPECT_GT(e.size(), strlen("invalid JSON: ")) << e;
  e = errorOf(Signal::kLogs, "[]");
  EXPECT_NE(e.find("expected a JSON object"), std::string::npos) << e;
}

TEST(OtlpJsonToWireTest, DeepNestingIsRejectedNotACrash) {
  auto nested = [](int levels) {
    std::string v = R"({"stringValue":"leaf"})";
    for (int i = 0; i < levels; ++i) v = strCat(R"({"arrayValue":{"values":[)", v, "]}}");
    return recordJson(strCat(R"({"body":)", v, "}"));
  };
  auto ok = otlpJsonToWire(Signal::kLogs, nested(40));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->items, 1u);
  EXPECT_NE(errorOf(Signal::kLogs, nested(49)).find("nesting"), std::string::npos);
  EXPECT_FALSE(otlpJsonToWire(Signal::kLogs, nested(300)).ok());
  // Way past simdjson's own depth limit, inside an ignored field.
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  EXPECT_FALSE(otlpJsonToWire(Signal::kLogs, strCat(R"({"x":)", deep, "}")).ok());
}

TEST(OtlpJsonToWireTest, OutputPassesCheckAndCount) {
  std::mt19937_64 rng(5);
  for (Signal s : kSignals) {
    for (int i = 0; i < 50; ++i) {
      auto msg = test_support::randomRequest(s, rng, 3);
      auto json = toOtlpJson(s, msg->SerializeAsString());
      ASSERT_TRUE(json.ok());
      auto r = otlpJsonToWire(s, *json);
      ASSERT_TRUE(r.ok()) << r.status();
      auto n = checkAndCount(s, r->wire);
      ASSERT_TRUE(n.ok());
      EXPECT_EQ(*n, r->items);
    }
  }
}

TEST(OtlpJsonToWireTest, StopsAtTheFirstProblem) {
  // The schema error at the first element wins over what follows (here: JSON cut short).
  EXPECT_EQ(errorOf(Signal::kLogs, R"({"resourceLogs":[0,0,0,{"scopeLogs":[)"),
            "expected a JSON object for ResourceLogs at resourceLogs[0]");
  EXPECT_EQ(errorOf(Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":7},)"),
            "expected a JSON array at resourceLogs[0].scopeLogs");
  // An unknown field is checked as JSON as it is skipped.
  EXPECT_EQ(errorOf(Signal::kLogs, R"({"x":[1,2 3],"resourceLogs":[5]})"),
            "invalid JSON: expected ',' or ']' at byte offset 10");
}

TEST(OtlpJsonToWireTest, JsonErrorsNameTheByteOffset) {
  EXPECT_EQ(errorOf(Signal::kLogs, R"({"resourceLogs":[}]})"),
            "invalid JSON: expected a value at byte offset 17");
  EXPECT_EQ(errorOf(Signal::kLogs, R"({"resourceLogs":[])"),
            "invalid JSON: unexpected end of input at byte offset 18");
  EXPECT_EQ(errorOf(Signal::kLogs, "{\"a\":\"\\ud800\"}"),
            "invalid JSON: unpaired surrogate in string at byte offset 6");
  EXPECT_EQ(errorOf(Signal::kLogs, "{\"a\":\"x\ty\"}"),
            "invalid JSON: unescaped control character in string at byte offset 7");
  EXPECT_EQ(errorOf(Signal::kLogs, R"({"a":01})"), "invalid JSON: invalid number at byte offset 6");
  EXPECT_EQ(errorOf(Signal::kLogs, R"({"a":1e400})"),
            "invalid JSON: number out of the double range at byte offset 5");
  EXPECT_EQ(errorOf(Signal::kLogs, R"({"a":18446744073709551616})"),
            "invalid JSON: integer out of the 64-bit range at byte offset 5");
  EXPECT_EQ(errorOf(Signal::kLogs, "{\"a\":\"\xff\"}"), "invalid JSON: invalid UTF-8");
}

TEST(OtlpJsonToWireTest, EscapesInKeysAndValues) {
  auto req = decode<col_logs::ExportLogsServiceRequest>(
      Signal::kLogs,
      R"({"resource\u004cogs":[{"scopeLogs":[{"logRecords":[{"severityText":"a\"b\u00e9\ud83d\ude00",)"
      R"("timeUnixNano":"\u0031\u0032","severityNumber":"SEVERITY_NUMBER_\u0057ARN",)"
      R"("traceId":"\u0030102030405060708090a0b0c0d0e0f10","body":{"bytesValue":"aG\/8"}}]}]}]})");
  const auto& r = req.resource_logs(0).scope_logs(0).log_records(0);
  EXPECT_EQ(r.severity_text(), "a\"b\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(r.time_unix_nano(), 12u);
  EXPECT_EQ(r.severity_number(), logs::SEVERITY_NUMBER_WARN);
  EXPECT_EQ(r.trace_id()[0], '\x01');
  EXPECT_EQ(r.body().bytes_value(), "ho\xfc");
}

TEST(OtlpJsonToWireTest, NumberEdgeCases) {
  auto m = decode<col_metrics::ExportMetricsServiceRequest>(
      Signal::kMetrics,
      R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[)"
      R"({"asDouble":-0},{"asDouble":-0.0},{"asDouble":1e-400},{"asDouble":-1e-400},)"
      R"({"asDouble":18446744073709551615},{"asInt":-9223372036854775808}]}}]}]}]})");
  const auto& pts = m.resource_metrics(0).scope_metrics(0).metrics(0).gauge().data_points();
  ASSERT_EQ(pts.size(), 6);
  EXPECT_FALSE(std::signbit(pts[0].as_double()));  // -0 is the integer 0
  EXPECT_TRUE(std::signbit(pts[1].as_double()));
  EXPECT_EQ(pts[2].as_double(), 0.0);  // underflow rounds to zero
  EXPECT_TRUE(std::signbit(pts[3].as_double()));
  EXPECT_EQ(pts[4].as_double(), 18446744073709551615.0);
  EXPECT_EQ(pts[5].as_int(), INT64_MIN);
}

TEST(OtlpJsonToWireTest, DuplicateKeysAreAllDecoded) {
  // As protobuf merges repeated occurrences: the last scalar wins, lists are concatenated.
  auto r = decodeRecord(R"({"severityText":"a","severityText":"b","attributes":[{"key":"x"}],)"
                        R"("attributes":[{"key":"y"}]})");
  EXPECT_EQ(r.severity_text(), "b");
  ASSERT_EQ(r.attributes_size(), 2);
  EXPECT_EQ(r.attributes(1).key(), "y");
}

TEST(OtlpJsonToWireTest, WireLargerThanTheBodyIsExact) {
  // Short packed numbers make the wire form up to 4x the JSON: decoded by the exact-size pass.
  std::string bounds;
  for (int i = 0; i < 5000; ++i) bounds += i == 0 ? "0" : ",1";
  auto m = decode<col_metrics::ExportMetricsServiceRequest>(
      Signal::kMetrics,
      strCat(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[)",
             R"({"explicitBounds":[)", bounds, R"(],"bucketCounts":[)", bounds, "]}]}}]}]}]}"));
  const auto& h = m.resource_metrics(0).scope_metrics(0).metrics(0).histogram().data_points(0);
  EXPECT_EQ(h.explicit_bounds_size(), 5000);
  EXPECT_EQ(h.bucket_counts_size(), 5000);
  auto r =
      otlpJsonToWire(Signal::kMetrics, strCat(R"({"resourceMetrics":[{"scopeMetrics":[{)",
                                              R"("metrics":[{"histogram":{"dataPoints":[)",
                                              R"({"explicitBounds":[)", bounds, "]}]}}]}]}]}"));
  ASSERT_TRUE(r.ok());
  col_metrics::ExportMetricsServiceRequest again;
  ASSERT_TRUE(again.ParseFromString(r->wire));
  EXPECT_EQ(r->wire, again.SerializeAsString());
}

TEST(OtlpJsonToWireTest, LongUnknownEnumValueIsShortenedInTheError) {
  const std::string e = errorOf(
      Signal::kLogs, recordJson(strCat(R"({"severityNumber":")", std::string(5000, 'X'), R"("})")));
  EXPECT_EQ(e.rfind(strCat("unknown enum value \"", std::string(64, 'X'), "...\" at "), 0), 0u)
      << e.substr(0, 200);
  EXPECT_LT(e.size(), 200u);
}

}  // namespace
}  // namespace telegate::pdata
