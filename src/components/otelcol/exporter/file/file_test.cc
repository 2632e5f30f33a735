#include "src/components/otelcol/exporter/file/file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"

namespace telegate::otelcol::exporter_file {
namespace {

std::string readAll(const std::string& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pdata::Batch logsBatch(const std::string& body) {
  opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  auto* kv = rl->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("django-app");
  auto* rec = rl->add_scope_logs()->add_log_records();
  rec->set_time_unix_nano(1700000000000000000ULL);
  rec->mutable_body()->set_string_value(body);
  rec->set_trace_id(
      std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", 16));
  pdata::Batch b;
  b.signal = pdata::Signal::kLogs;
  b.payload = req.SerializeAsString();
  b.items = 1;
  return b;
}

TEST(FileExporterTest, WritesOtlpJsonLines) {
  std::string dir = ::testing::TempDir() + "/file_exporter_json";
  std::filesystem::remove_all(dir);
  metrics::Registry reg;
  FileConsumer c("otelcol.exporter.file.t", reg);
  Arguments a;
  a.directory = dir;
  c.configure(a, "/nonexistent");
  ASSERT_TRUE(c.consume(logsBatch("hello")).ok());
  ASSERT_TRUE(c.consume(logsBatch("world")).ok());
  std::string text = readAll(dir + "/logs.jsonl");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  EXPECT_NE(text.find("\"stringValue\":\"hello\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"traceId\":\"0102030405060708090a0b0c0d0e0f10\""), std::string::npos)
      << text;
  EXPECT_NE(text.find("\"timeUnixNano\":\"1700000000000000000\""), std::string::npos) << text;
  EXPECT_NE(reg.exposition().find(
                "telegate_exporter_sent_items_total{component_id=\"otelcol.exporter.file.t\","
                "signal=\"logs\"} 2"),
            std::string::npos)
      << reg.exposition();
}

TEST(FileExporterTest, RejectsMalformedPayloadAsPermanent) {
  std::string dir = ::testing::TempDir() + "/file_exporter_bad";
  metrics::Registry reg;
  FileConsumer c("x", reg);
  Arguments a;
  a.directory = dir;
  c.configure(a, "");
  pdata::Batch b;
  b.signal = pdata::Signal::kLogs;
  b.payload = "\xff\xff\xff";
  b.items = 3;
  auto st = c.consume(std::move(b));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
}

TEST(FileExporterTest, RotatesAtMaxSize) {
  std::string dir = ::testing::TempDir() + "/file_exporter_rotate";
  std::filesystem::remove_all(dir);
  metrics::Registry reg;
  FileConsumer c("x", reg);
  Arguments a;
  a.directory = dir;
  a.max_file_size = runtime::ByteSize(1024);
  c.configure(a, "");
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(c.consume(logsBatch(std::string(100, 'a' + i % 26))).ok());
  EXPECT_TRUE(std::filesystem::exists(dir + "/logs.jsonl.1"));
  EXPECT_LE(std::filesystem::file_size(dir + "/logs.jsonl"), 1024u);
}

}  // namespace
}  // namespace telegate::otelcol::exporter_file
