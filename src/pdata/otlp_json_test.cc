#include "src/pdata/otlp_json.h"

#include <gtest/gtest.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace telegate::pdata {
namespace {

TEST(OtlpJsonTest, RendersIdsAsHexAndEnumsAsInts) {
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest req;
  auto* span = req.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(std::string(16, '\xab'));
  span->set_span_id(std::string(8, '\x01'));
  span->set_parent_span_id(std::string(8, '\x02'));
  span->set_name("GET /");
  span->set_kind(opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER);
  auto json = toOtlpJson(Signal::kTraces, req.SerializeAsString());
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find("\"traceId\":\"abababababababababababababababab\""), std::string::npos)
      << *json;
  EXPECT_NE(json->find("\"spanId\":\"0101010101010101\""), std::string::npos) << *json;
  EXPECT_NE(json->find("\"parentSpanId\":\"0202020202020202\""), std::string::npos) << *json;
  EXPECT_NE(json->find("\"kind\":2"), std::string::npos) << *json;
}

TEST(OtlpJsonTest, LeavesLookalikesInsideStringsAlone) {
  // A string value containing the key text is escaped in JSON, so it is never rewritten.
  std::string in = R"({"key":"x","value":{"stringValue":"\"traceId\":\"AAAA\""}})";
  EXPECT_EQ(hexIdsInJson(in), in);
}

TEST(OtlpJsonTest, RejectsGarbage) {
  EXPECT_EQ(toOtlpJson(Signal::kLogs, "\xff\xff").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace telegate::pdata
