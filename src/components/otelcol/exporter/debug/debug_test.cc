#include "src/components/otelcol/exporter/debug/debug.h"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "test/fakes/fake_clock.h"

namespace telegate::otelcol::exporter_debug {
namespace {

pdata::Batch logsBatch(int resources, const std::string& body) {
  opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest req;
  for (int i = 0; i < resources; ++i) {
    auto* rl = req.add_resource_logs();
    auto* kv = rl->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("django-app");
    rl->add_scope_logs()->add_log_records()->mutable_body()->set_string_value(body);
  }
  pdata::Batch b;
  b.signal = pdata::Signal::kLogs;
  b.payload = req.SerializeAsString();
  b.items = static_cast<uint64_t>(resources);
  return b;
}

class DebugExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::setSinkForTest([this](std::string_view line) {
      std::lock_guard<std::mutex> l(mu_);
      lines_.emplace_back(line);
    });
  }
  void TearDown() override { log::setSinkForTest(nullptr); }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> l(mu_);
    return lines_;
  }
  std::mutex mu_;
  std::vector<std::string> lines_;
  metrics::Registry reg_;
  log::Logger logger_{{"component_id", "otelcol.exporter.debug.t"}};
};

TEST_F(DebugExporterTest, NormalLogsSignalItemsResourcesAndCounts) {
  DebugConsumer c("otelcol.exporter.debug.t", logger_, reg_);
  Arguments a;
  a.verbosity = "normal";
  c.configure(a);
  ASSERT_TRUE(c.consume(logsBatch(3, "hello")).ok());
  auto l = lines();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_NE(l[0].find("signal=logs"), std::string::npos) << l[0];
  EXPECT_NE(l[0].find("items=3"), std::string::npos) << l[0];
  EXPECT_NE(l[0].find("resources=3"), std::string::npos) << l[0];
  EXPECT_NE(l[0].find("component_id=otelcol.exporter.debug.t"), std::string::npos) << l[0];
  EXPECT_NE(reg_.exposition().find("telegate_exporter_sent_items_total{component_id=\"otelcol."
                                   "exporter.debug.t\",signal=\"logs\"} 3"),
            std::string::npos)
      << reg_.exposition();
}

TEST_F(DebugExporterTest, DetailedIncludesJsonTruncated) {
  DebugConsumer c("otelcol.exporter.debug.t", logger_, reg_);
  Arguments a;
  a.verbosity = "detailed";
  c.configure(a);
  ASSERT_TRUE(c.consume(logsBatch(1, "hello-body")).ok());
  ASSERT_TRUE(c.consume(logsBatch(1, std::string(100 << 10, 'x'))).ok());
  auto l = lines();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_NE(l[0].find("hello-body"), std::string::npos) << l[0];
  EXPECT_NE(l[0].find("django-app"), std::string::npos) << l[0];
  EXPECT_EQ(l[0].find("truncated"), std::string::npos) << l[0];
  EXPECT_NE(l[1].find("truncated=true"), std::string::npos);
  EXPECT_LT(l[1].size(), kMaxDetailedBytes + 1024);
}

TEST_F(DebugExporterTest, SamplingPerSecond) {
  DebugConsumer c("otelcol.exporter.debug.t", logger_, reg_);
  telegate::testing::FakeClock clock;
  c.setClockForTest(clock.function());
  Arguments a;
  a.sampling_initial = 2;
  a.sampling_thereafter = 5;
  c.configure(a);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(c.consume(logsBatch(1, "x")).ok());
  // Batches 1, 2, then 7 and 12.
  EXPECT_EQ(lines().size(), 4u);
  clock.advance(std::chrono::milliseconds(1001));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.consume(logsBatch(1, "x")).ok());
  EXPECT_EQ(lines().size(), 6u);
  a.sampling_thereafter = 0;
  c.configure(a);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.consume(logsBatch(1, "x")).ok());
  EXPECT_EQ(lines().size(), 6u);  // window already past sampling_initial: nothing more
  EXPECT_NE(reg_.exposition().find("signal=\"logs\"} 35"), std::string::npos) << reg_.exposition();
}

TEST_F(DebugExporterTest, StdoutWhenNotInternalLogger) {
  DebugConsumer c("otelcol.exporter.debug.t", logger_, reg_);
  std::vector<std::string> out;
  c.setStdoutSinkForTest([&out](std::string_view line) { out.emplace_back(line); });
  Arguments a;
  a.use_internal_logger = false;
  c.configure(a);
  ASSERT_TRUE(c.consume(logsBatch(2, "x")).ok());
  EXPECT_TRUE(lines().empty());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].find("signal=logs items=2"), std::string::npos) << out[0];
}

TEST(DebugArgumentsTest, Validate) {
  Arguments a;
  EXPECT_TRUE(a.validate().ok());
  a.verbosity = "loud";
  EXPECT_FALSE(a.validate().ok());
  a.verbosity = "detailed";
  a.sampling_thereafter = -1;
  EXPECT_FALSE(a.validate().ok());
}

TEST(DebugCountResourcesTest, CountsTopLevelField1) {
  EXPECT_EQ(countResources(logsBatch(4, "x").payload), 4u);
  EXPECT_EQ(countResources(""), 0u);
}

}  // namespace
}  // namespace telegate::otelcol::exporter_debug
