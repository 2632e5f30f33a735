// Tests for otelcol.exporter.loki's conversion (convertLogs): labels, hints, JSON / logfmt / raw
// lines, timestamps, tenants, wire encodings and malformed payloads. The component itself is
// tested in loki_consumer_test.cc.
#include "src/components/otelcol/exporter/loki/loki.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"

namespace telegate::otelcol::exporter_loki {
namespace {

namespace v1 = ::opentelemetry::proto;
using Request = v1::collector::logs::v1::ExportLogsServiceRequest;

const std::string kTrace("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", 16);
const std::string kSpan("\x01\x02\x03\x04\x05\x06\x07\x08", 8);

void putStr(google::protobuf::RepeatedPtrField<v1::common::v1::KeyValue>* kvs, const std::string& k,
            const std::string& v) {
  auto* kv = kvs->Add();
  kv->set_key(k);
  kv->mutable_value()->set_string_value(v);
}

v1::common::v1::AnyValue* put(google::protobuf::RepeatedPtrField<v1::common::v1::KeyValue>* kvs,
                              const std::string& k) {
  auto* kv = kvs->Add();
  kv->set_key(k);
  return kv->mutable_value();
}

struct Built {
  Request req;
  v1::logs::v1::ResourceLogs* rl;
  v1::logs::v1::ScopeLogs* sl;
  v1::logs::v1::LogRecord* rec;
};

std::unique_ptr<Built> basic() {
  auto b = std::make_unique<Built>();
  b->rl = b->req.add_resource_logs();
  b->sl = b->rl->add_scope_logs();
  b->rec = b->sl->add_log_records();
  b->rec->set_time_unix_nano(1700000000000000001ULL);
  return b;
}

struct Converted {
  std::vector<loki::Entry> entries;
  uint64_t dropped = 0;
  std::string first_error;
};

Converted convert(const Request& req, ConvertOptions opts = {}) {
  if (opts.now_ns == 0) opts.now_ns = 42;
  auto r = convertLogs(req.SerializeAsString(), opts);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {};
  return {r->batch.toEntries(), r->dropped, r->first_error};
}

std::string labelsOf(const loki::Entry& e) {
  std::string out;
  for (const auto& [k, v] : e.labels) out += k + "=" + v + ";";
  return out;
}

TEST(LokiConvertTest, DjangoRecordJsonGolden) {
  auto b = basic();
  auto* res = b->rl->mutable_resource()->mutable_attributes();
  putStr(res, "service.name", "django-app");
  putStr(res, "service.instance.id", "pod-1");
  b->sl->mutable_scope()->set_name("django.request");
  b->sl->mutable_scope()->set_version("1.0");
  b->rec->set_severity_number(v1::logs::v1::SEVERITY_NUMBER_INFO);
  b->rec->set_severity_text("INFO");
  b->rec->mutable_body()->set_string_value("GET <a> & b");
  putStr(b->rec->mutable_attributes(), "http.method", "GET");
  put(b->rec->mutable_attributes(), "code")->set_int_value(200);
  b->rec->set_trace_id(kTrace);
  b->rec->set_span_id(kSpan);
  b->rec->set_flags(1);
  auto r = convert(b->req);
  ASSERT_EQ(r.entries.size(), 1u);
  const auto& e = r.entries[0];
  EXPECT_EQ(labelsOf(e),
            "exporter=OTLP;instance=pod-1;job=django-app;level=INFO;service_name=django-app;");
  EXPECT_EQ(e.line,
            R"({"body":"GET \u003ca\u003e \u0026 b","traceid":"0102030405060708090a0b0c0d0e0f10",)"
            R"("spanid":"0102030405060708","severity":"INFO","flags":1,)"
            R"("attributes":{"code":200,"http.method":"GET"},)"
            R"("resources":{"service.instance.id":"pod-1","service.name":"django-app"},)"
            R"("instrumentation_scope":{"name":"django.request","version":"1.0"}})");
  EXPECT_EQ(e.timestamp_ns, 1700000000000000001LL);
  EXPECT_TRUE(e.structured_metadata.empty());
}

TEST(LokiConvertTest, NamespaceJobAndServiceNameOff) {
  auto b = basic();
  auto* res = b->rl->mutable_resource()->mutable_attributes();
  putStr(res, "service.name", "django-app");
  putStr(res, "service.namespace", "shop");
  b->rec->mutable_body()->set_string_value("x");
  ConvertOptions off;
  off.service_name_label = false;
  auto r = convert(b->req, off);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(labelsOf(r.entries[0]), "exporter=OTLP;job=shop/django-app;");
  EXPECT_EQ(r.entries[0].line,
            R"({"body":"x","resources":{"service.name":"django-app","service.namespace":"shop"}})");
  // On (default): service_name is the bare service.name even with a namespace.
  auto r2 = convert(b->req);
  EXPECT_EQ(labelsOf(r2.entries[0]), "exporter=OTLP;job=shop/django-app;service_name=django-app;");
  // No service.name: neither job nor service_name.
  auto b3 = basic();
  b3->rec->mutable_body()->set_string_value("x");
  EXPECT_EQ(labelsOf(convert(b3->req).entries[0]), "exporter=OTLP;");
  EXPECT_EQ(convert(b3->req).entries[0].line, R"({"body":"x"})");
}

TEST(LokiConvertTest, HintsPromoteAndRemoveAttributes) {
  auto b = basic();
  auto* res = b->rl->mutable_resource()->mutable_attributes();
  putStr(res, "service.name", "svc");
  putStr(res, "k8s.pod.name", "p1");
  putStr(res, "loki.resource.labels", "k8s.pod.name, missing");
  b->rec->mutable_body()->set_string_value("x");
  auto* user = put(b->rec->mutable_attributes(), "user")->mutable_kvlist_value();
  putStr(user->mutable_values(), "id", "42");
  auto* hint = put(b->rec->mutable_attributes(), "loki.attribute.labels")->mutable_array_value();
  hint->add_values()->set_string_value("user.id");
  hint->add_values()->set_string_value("0weird");
  put(b->rec->mutable_attributes(), "0weird")->set_bool_value(true);
  auto r = convert(b->req);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(labelsOf(r.entries[0]),
            "exporter=OTLP;job=svc;k8s_pod_name=p1;key_0weird=true;service_name=svc;"
            "user_id=42;");
  EXPECT_EQ(r.entries[0].line,
            R"({"body":"x","attributes":{"user":{"id":"42"}},"resources":{"service.name":"svc"}})");
}

TEST(LokiConvertTest, SeverityToLevel) {
  struct Case {
    int number;
    const char* level;
  } cases[] = {{1, "TRACE"}, {4, "TRACE4"}, {5, "DEBUG"},  {9, "INFO"},   {12, "INFO4"},
               {13, "WARN"}, {14, "WARN2"}, {17, "ERROR"}, {21, "FATAL"}, {24, "FATAL4"}};
  for (const auto& c : cases) {
    auto b = basic();
    b->rec->set_severity_number(static_cast<v1::logs::v1::SeverityNumber>(c.number));
    b->rec->mutable_body()->set_string_value("x");
    auto r = convert(b->req);
    ASSERT_EQ(r.entries.size(), 1u);
    EXPECT_EQ(labelsOf(r.entries[0]), std::string("exporter=OTLP;level=") + c.level + ";");
    EXPECT_EQ(r.entries[0].line, R"({"body":"x"})");
  }
  // An existing level attribute wins and is promoted.
  auto b = basic();
  b->rec->set_severity_number(v1::logs::v1::SEVERITY_NUMBER_ERROR);
  putStr(b->rec->mutable_attributes(), "level", "custom");
  b->rec->mutable_body()->set_string_value("x");
  EXPECT_EQ(labelsOf(convert(b->req).entries[0]), "exporter=OTLP;level=custom;");
  // No severity number: no level label, the severity text stays in the line.
  auto b2 = basic();
  b2->rec->set_severity_text("warning");
  EXPECT_EQ(labelsOf(convert(b2->req).entries[0]), "exporter=OTLP;");
  EXPECT_EQ(convert(b2->req).entries[0].line, R"({"severity":"warning"})");
}

TEST(LokiConvertTest, LogfmtFormat) {
  auto b = basic();
  auto* res = b->rl->mutable_resource()->mutable_attributes();
  putStr(res, "service.name", "svc");
  putStr(res, "loki.format", "logfmt");
  b->rec->mutable_body()->set_string_value("level=info msg=\"hello world\" count=3");
  b->rec->set_severity_text("INFO");
  b->rec->set_trace_id(kTrace);
  putStr(b->rec->mutable_attributes(), "a b", "x=y");
  put(b->rec->mutable_attributes(), "ratio")->set_double_value(1000000.0);
  b->sl->mutable_scope()->set_name("scope");
  auto r = convert(b->req);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].line,
            "level=info msg=\"hello world\" count=3 traceID=0102030405060708090a0b0c0d0e0f10 "
            "severity=INFO attribute_ab=\"x=y\" attribute_ratio=1e+06 resource_service.name=svc "
            "instrumentation_scope_name=scope");
  EXPECT_EQ(labelsOf(r.entries[0]), "exporter=OTLP;job=svc;service_name=svc;");

  // Plain text parses as value-less keys (go-logfmt); a syntax error falls back to msg=.
  auto b2 = basic();
  putStr(b2->rec->mutable_attributes(), "loki.format", "logfmt");
  b2->rec->mutable_body()->set_string_value("hello world\nsecond line");
  EXPECT_EQ(convert(b2->req).entries[0].line, "hello= world=");
  b2->rec->mutable_body()->set_string_value("say \"hi\"");
  EXPECT_EQ(convert(b2->req).entries[0].line, R"(msg="say \"hi\"")");
  b2->rec->mutable_body()->set_string_value("null");
  EXPECT_EQ(convert(b2->req).entries[0].line, "null=");
  // Map bodies are flattened with '_'.
  auto* m = b2->rec->mutable_body()->mutable_kvlist_value();
  putStr(m->mutable_values(), "event", "login");
  auto* inner = put(m->mutable_values(), "user")->mutable_kvlist_value();
  put(inner->mutable_values(), "id")->set_int_value(7);
  EXPECT_EQ(convert(b2->req).entries[0].line, "event=login user_id=7");
}

TEST(LokiConvertTest, RawFormatAndUnknownFormat) {
  auto b = basic();
  putStr(b->rec->mutable_attributes(), "loki.format", "raw");
  auto* m = b->rec->mutable_body()->mutable_kvlist_value();
  put(m->mutable_values(), "b")->set_int_value(1);
  putStr(m->mutable_values(), "a", "<x>");
  auto r = convert(b->req);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].line, R"({"a":"\u003cx\u003e","b":1})");
  b->rec->mutable_body()->set_string_value("plain line");
  EXPECT_EQ(convert(b->req).entries[0].line, "plain line");

  auto bad = basic();
  putStr(bad->rec->mutable_attributes(), "loki.format", "xml");
  auto* rec2 = bad->sl->add_log_records();
  rec2->mutable_body()->set_string_value("ok");
  auto r2 = convert(bad->req);
  EXPECT_EQ(r2.dropped, 1u);
  ASSERT_EQ(r2.entries.size(), 1u);
  EXPECT_EQ(r2.entries[0].line, R"({"body":"ok"})");
  EXPECT_NE(r2.first_error.find("invalid format xml"), std::string::npos);
}

TEST(LokiConvertTest, JsonNumbersEscapingAndNaN) {
  auto b = basic();
  auto* a = b->rec->mutable_attributes();
  put(a, "f1")->set_double_value(1.5);
  put(a, "f2")->set_double_value(1e21);
  put(a, "f3")->set_double_value(1e-7);
  put(a, "f4")->set_double_value(100.0);
  put(a, "b")->set_bytes_value("hi");
  put(a, "arr")->mutable_array_value()->add_values()->set_bool_value(false);
  put(a, "empty");
  putStr(a, "s", std::string("q\"\\\n\t\x01\xe2\x80\xa8", 9));
  auto r = convert(b->req);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].line,
            R"({"attributes":{"arr":[false],"b":"aGk=","empty":null,"f1":1.5,"f2":1e+21,)"
            R"("f3":1e-7,"f4":100,"s":"q\"\\\n\t\u0001\u2028"}})");

  put(a, "nan")->set_double_value(std::numeric_limits<double>::quiet_NaN());
  auto r2 = convert(b->req);
  EXPECT_EQ(r2.entries.size(), 0u);
  EXPECT_EQ(r2.dropped, 1u);
}

TEST(LokiConvertTest, TimestampsAndTenant) {
  auto b = basic();
  b->rec->set_time_unix_nano(0);
  b->rec->set_observed_time_unix_nano(5);
  ConvertOptions opts;
  opts.tenant = "team-a";
  auto r = convert(b->req, opts);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].timestamp_ns, 5);
  EXPECT_EQ(labelsOf(r.entries[0]), "__tenant_id__=team-a;exporter=OTLP;");
  b->rec->set_observed_time_unix_nano(0);
  EXPECT_EQ(convert(b->req).entries[0].timestamp_ns, 42);
}

// A client must not pick its Loki tenant through label hints: only the credential sets it.
TEST(LokiConvertTest, ClientAttributesNeverSetTheTenant) {
  auto b = basic();
  auto* res = b->rl->mutable_resource()->mutable_attributes();
  putStr(res, "__tenant.id__", "victim-r");  // normalises to __tenant_id__
  putStr(res, "loki.resource.labels", "__tenant.id__");
  b->rec->mutable_body()->set_string_value("x");
  putStr(b->rec->mutable_attributes(), "__tenant_id__", "victim-a");
  putStr(b->rec->mutable_attributes(), "loki.attribute.labels", "__tenant_id__");
  auto r = convert(b->req);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(labelsOf(r.entries[0]), "exporter=OTLP;");
  ConvertOptions opts;
  opts.tenant = "team-a";
  r = convert(b->req, opts);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(labelsOf(r.entries[0]), "__tenant_id__=team-a;exporter=OTLP;");

  // The loki.tenant hint on the resource and on the record.
  auto t = basic();
  putStr(t->rl->mutable_resource()->mutable_attributes(), "__tenant_id__", "victim-t");
  putStr(t->rl->mutable_resource()->mutable_attributes(), "loki.tenant", "__tenant_id__");
  t->rec->mutable_body()->set_string_value("y");
  r = convert(t->req);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(labelsOf(r.entries[0]), "exporter=OTLP;");
  auto u = basic();
  putStr(u->rec->mutable_attributes(), "__tenant_id__", "victim-u");
  putStr(u->rec->mutable_attributes(), "loki.tenant", "__tenant_id__");
  r = convert(u->req);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(labelsOf(r.entries[0]), "exporter=OTLP;");
}

TEST(LokiConvertTest, JsonStringEscaping) {
  std::string out;
  appendJsonString(&out, std::string("a\xff\b\f\x7f\xc3\xa9\xe2\x80\xa9", 10));
  EXPECT_EQ(out, R"("a\ufffd\b\f)"
                 "\x7f"
                 R"(é\u2029")");
}

TEST(LokiConvertTest, PerResourceWorkMatchesPerRecordSemantics) {
  auto b = basic();
  auto* res = b->rl->mutable_resource()->mutable_attributes();
  putStr(res, "service.name", "svc");
  putStr(res, "host.name", "h1");
  putStr(res, "level", "resLevel");
  b->rec->set_severity_number(v1::logs::v1::SEVERITY_NUMBER_INFO);
  b->rec->mutable_body()->set_string_value("a");
  auto* r2 = b->sl->add_log_records();
  r2->set_time_unix_nano(2);
  r2->mutable_body()->set_string_value("b");
  putStr(r2->mutable_attributes(), "loki.resource.labels", "host.name");
  auto* r3 = b->sl->add_log_records();
  r3->set_time_unix_nano(3);
  r3->mutable_body()->set_string_value("c");
  auto* r4 = b->sl->add_log_records();
  r4->set_time_unix_nano(4);
  r4->set_severity_number(v1::logs::v1::SEVERITY_NUMBER_INFO);
  r4->mutable_body()->set_string_value("d");
  // A second resource without attributes.
  auto* rl2 = b->req.add_resource_logs();
  auto* r5 = rl2->add_scope_logs()->add_log_records();
  r5->set_time_unix_nano(5);
  r5->mutable_body()->set_string_value("e");

  auto raw = convertLogs(b->req.SerializeAsString(), {});
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->batch.streams.size(), 4u);  // records 1 and 4 share a stream
  auto r = convert(b->req);
  ASSERT_EQ(r.entries.size(), 5u);
  EXPECT_EQ(labelsOf(r.entries[0]), "exporter=OTLP;job=svc;level=INFO;service_name=svc;");
  EXPECT_EQ(r.entries[0].line,
            R"({"body":"a","resources":{"host.name":"h1","service.name":"svc"}})");
  EXPECT_EQ(labelsOf(r.entries[1]), "exporter=OTLP;host_name=h1;job=svc;service_name=svc;");
  EXPECT_EQ(r.entries[1].line,
            R"({"body":"b","resources":{"level":"resLevel","service.name":"svc"}})");
  EXPECT_EQ(labelsOf(r.entries[2]), "exporter=OTLP;job=svc;service_name=svc;");
  EXPECT_EQ(
      r.entries[2].line,
      R"({"body":"c","resources":{"host.name":"h1","level":"resLevel","service.name":"svc"}})");
  EXPECT_EQ(labelsOf(r.entries[3]), labelsOf(r.entries[0]));
  EXPECT_EQ(r.entries[3].line,
            R"({"body":"d","resources":{"host.name":"h1","service.name":"svc"}})");
  EXPECT_EQ(labelsOf(r.entries[4]), "exporter=OTLP;");
  EXPECT_EQ(r.entries[4].line, R"({"body":"e"})");
  EXPECT_EQ(r.entries[4].timestamp_ns, 5);
}

TEST(LokiConvertTest, MalformedPayload) {
  auto r = convertLogs("\xff\xff\xff", {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

// Fills `v` with a map holding every AnyValue kind, nested.
void fillNested(v1::common::v1::AnyValue* v) {
  auto* m = v->mutable_kvlist_value()->mutable_values();
  putStr(m, "s", "x");
  put(m, "i")->set_int_value(-5);
  put(m, "d")->set_double_value(1.5);
  put(m, "b")->set_bool_value(true);
  put(m, "y")->set_bytes_value("hi");
  auto* arr = put(m, "arr")->mutable_array_value();
  arr->add_values()->set_int_value(1);
  arr->add_values()->set_string_value("two");
  arr->add_values()->mutable_array_value()->add_values()->set_bool_value(false);
  putStr(put(m, "m")->mutable_kvlist_value()->mutable_values(), "k", "v");
  put(m, "e");          // a KeyValue whose value is an empty AnyValue
  auto* kv = m->Add();  // a KeyValue without a value at all
  kv->set_key("n");
}

TEST(LokiConvertTest, NestedAnyValuesJson) {
  auto b = basic();
  fillNested(b->rec->mutable_body());
  fillNested(put(b->rec->mutable_attributes(), "attr"));
  put(b->rec->mutable_attributes(), "empty_str")->set_string_value("");
  put(b->rec->mutable_attributes(), "bytes")->set_bytes_value(std::string("\x00\xff\x10", 3));
  auto r = convert(b->req);
  ASSERT_EQ(r.entries.size(), 1u);
  const std::string nested =
      R"({"arr":[1,"two",[false]],"b":true,"d":1.5,"e":null,"i":-5,"m":{"k":"v"},"n":null,)"
      R"("s":"x","y":"aGk="})";
  EXPECT_EQ(r.entries[0].line, R"({"body":)" + nested + R"(,"attributes":{"attr":)" + nested +
                                   R"(,"bytes":"AP8Q","empty_str":""}})");
}

TEST(LokiConvertTest, NestedAnyValuesLogfmtAndLabels) {
  auto b = basic();
  fillNested(b->rec->mutable_body());
  putStr(b->rec->mutable_attributes(), "loki.format", "logfmt");
  fillNested(put(b->rec->mutable_attributes(), "attr"));
  putStr(b->rec->mutable_attributes(), "loki.attribute.labels", "attr.m.k, attr.d, attr.arr");
  auto r = convert(b->req);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(labelsOf(r.entries[0]),
            R"(attr_arr=[1,"two",[false]];attr_d=1.5;attr_m_k=v;exporter=OTLP;)");
  EXPECT_EQ(r.entries[0].line,
            "s=x i=-5 d=1.5 b=true y=hi arr_0=1 arr_1=two arr_2_0=false m_k=v "
            "attribute_attr_s=x attribute_attr_i=-5 attribute_attr_d=1.5 attribute_attr_b=true "
            "attribute_attr_y=hi attribute_attr_arr_0=1 attribute_attr_arr_1=two "
            "attribute_attr_arr_2_0=false attribute_attr_m_k=v");
  // raw: a map body is its JSON.
  b->rec->mutable_attributes(0)->mutable_value()->set_string_value("raw");
  EXPECT_EQ(convert(b->req).entries[0].line,
            R"({"arr":[1,"two",[false]],"b":true,"d":1.5,"e":null,"i":-5,"m":{"k":"v"},)"
            R"("n":null,"s":"x","y":"aGk="})");
}

TEST(LokiConvertTest, EmptyValues) {
  auto b = basic();
  b->rec->mutable_body();  // present but empty: no body
  put(b->rec->mutable_attributes(), "none");
  put(b->rec->mutable_attributes(), "list")->mutable_array_value();
  put(b->rec->mutable_attributes(), "map")->mutable_kvlist_value();
  putStr(b->rec->mutable_attributes(), "", "empty key");
  auto r = convert(b->req);
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].line, R"({"attributes":{"":"empty key","list":[],"map":{},"none":null}})");
  // A request without any record and an empty request.
  Request empty;
  empty.add_resource_logs()->add_scope_logs();
  EXPECT_TRUE(convert(empty).entries.empty());
  auto r2 = convertLogs("", {});
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->batch.empty());
}

// Encodings protobuf accepts but writes differently (fields out of order, a singular message
// repeated and merged, unknown fields, a known number with another wire type) convert like
// protobuf's own encoding of the same request.
TEST(LokiConvertTest, UnusualEncodingsConvertLikeProtobuf) {
  auto tag = [](int field, int wt) { return std::string(1, static_cast<char>(field << 3 | wt)); };
  auto len = [&](int field, const std::string& body) {
    std::string out = tag(field, 2);
    size_t n = body.size();
    while (n >= 0x80) {
      out.push_back(static_cast<char>(n | 0x80));
      n >>= 7;
    }
    out.push_back(static_cast<char>(n));
    return out + body;
  };
  v1::common::v1::AnyValue a, b2;
  putStr(a.mutable_kvlist_value()->mutable_values(), "a", "1");
  putStr(b2.mutable_kvlist_value()->mutable_values(), "b", "2");
  v1::logs::v1::LogRecord rec;
  rec.set_time_unix_nano(7);
  // The body twice (protobuf merges the maps), an unknown varint field 15, the severity text as
  // a varint (wrong wire type: unknown) and a group in an unknown field.
  std::string rec_bytes = rec.SerializeAsString() + len(5, a.SerializeAsString()) +
                          len(5, b2.SerializeAsString()) + tag(15, 0) + "\x01" + tag(3, 0) +
                          "\x05" + tag(14, 3) + tag(1, 0) + "\x01" + tag(14, 4);
  v1::resource::v1::Resource res;
  putStr(res.mutable_attributes(), "service.name", "svc");
  v1::common::v1::InstrumentationScope scope;
  scope.set_name("sc");
  // ScopeLogs: record before scope. ResourceLogs: scope_logs before resource.
  std::string sl = len(2, rec_bytes) + len(1, scope.SerializeAsString());
  std::string rl = len(2, sl) + len(1, res.SerializeAsString());
  std::string payload = len(1, rl);

  Request parsed;
  ASSERT_TRUE(parsed.ParseFromString(payload));
  ConvertOptions opts;
  opts.now_ns = 42;
  auto got = convertLogs(payload, opts);
  ASSERT_TRUE(got.ok()) << got.status();
  auto want = convertLogs(parsed.SerializeAsString(), opts);
  ASSERT_TRUE(want.ok());
  auto ge = got->batch.toEntries(), we = want->batch.toEntries();
  ASSERT_EQ(ge.size(), 1u);
  ASSERT_EQ(we.size(), 1u);
  EXPECT_EQ(ge[0].line, we[0].line);
  EXPECT_EQ(labelsOf(ge[0]), labelsOf(we[0]));
  EXPECT_EQ(ge[0].timestamp_ns, 7);
  EXPECT_EQ(ge[0].line, R"({"body":{"a":"1","b":"2"},"resources":{"service.name":"svc"},)"
                        R"("instrumentation_scope":{"name":"sc"}})");
}

TEST(LokiConvertTest, MalformedPayloadsAreRejected) {
  auto b = basic();
  fillNested(b->rec->mutable_body());
  putStr(b->rec->mutable_attributes(), "k", "v");
  const std::string good = b->req.SerializeAsString();
  ASSERT_TRUE(convertLogs(good, {}).ok());
  // Every truncation of a valid request is either still a valid request (protobuf agrees) or
  // INVALID_ARGUMENT.
  for (size_t n = 0; n < good.size(); ++n) {
    std::string cut = good.substr(0, n);
    Request r;
    bool pb_ok = r.ParseFromString(cut);
    auto got = convertLogs(cut, {});
    EXPECT_EQ(got.ok(), pb_ok) << "prefix " << n;
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  // A length running past the end, an invalid wire type, an over-long varint.
  for (std::string bad : {std::string("\x0a\x05\x12\x01"), std::string("\x0f\x01"),
                          std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")}) {
    auto got = convertLogs(bad, {});
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  }
  // Invalid UTF-8 in a string value: the same verdict as protobuf.
  auto u = basic();
  u->rec->mutable_body()->set_string_value("ok");
  std::string bytes = u->req.SerializeAsString();
  size_t at = bytes.find("ok");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = '\xff';
  Request r;
  bool pb_ok = r.ParseFromString(bytes);
  EXPECT_EQ(convertLogs(bytes, {}).ok(), pb_ok);
  // Deeply nested arrays: accepted while protobuf accepts them.
  for (int depth : {10, 40, 60}) {
    v1::common::v1::AnyValue v;
    v1::common::v1::AnyValue* cur = &v;
    for (int i = 0; i < depth; ++i) cur = cur->mutable_array_value()->add_values();
    cur->set_int_value(1);
    auto d = basic();
    *d->rec->mutable_body() = v;
    std::string s = d->req.SerializeAsString();
    Request pr;
    bool ok = pr.ParseFromString(s);
    EXPECT_EQ(convertLogs(s, {}).ok(), ok) << depth;
  }
}

TEST(LokiConvertTest, NormalizeLabelName) {
  EXPECT_EQ(normalizeLabelName("k8s.pod.name"), "k8s_pod_name");
  EXPECT_EQ(normalizeLabelName("0abc"), "key_0abc");
  EXPECT_EQ(normalizeLabelName("_x"), "key_x");
  EXPECT_EQ(normalizeLabelName("__x"), "__x");
  EXPECT_EQ(normalizeLabelName("a-b/c"), "a_b_c");
}

}  // namespace
}  // namespace telegate::otelcol::exporter_loki
