// Tests for the otelcol.exporter.loki component (LokiConsumer): durability, forwarding to every
// receiver, refusals returned to the sender, metrics, malformed payloads.
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/components/otelcol/exporter/loki/loki.h"

namespace telegate::otelcol::exporter_loki {
namespace {

using Request = ::opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;

std::string labelsOf(const loki::Entry& e) {
  std::string out;
  for (const auto& [k, v] : e.labels) out += k + "=" + v + ";";
  return out;
}

class FakeReceiver : public loki::LogsReceiver {
 public:
  absl::Status pushBatch(loki::EntryBatch&& batch) override {
    std::lock_guard<std::mutex> lk(mu);
    if (!status.ok()) return status;
    for (auto& e : batch.toEntries()) got.push_back(std::move(e));
    return absl::OkStatus();
  }
  std::string describe() const override { return "fake"; }
  bool durable() const override { return wal; }
  std::mutex mu;
  bool wal = false;
  absl::Status status;
  std::vector<loki::Entry> got;
};

TEST(LokiConsumerTest, DurableWhenEveryReceiverKeepsAWal) {
  metrics::Registry reg;
  LokiConsumer c("otelcol.exporter.loki.t", reg, log::Logger{});
  EXPECT_FALSE(c.durable(pdata::Signal::kLogs));  // not configured
  auto r1 = std::make_shared<FakeReceiver>();
  auto r2 = std::make_shared<FakeReceiver>();
  Arguments args;
  args.forward_to = {{r1}, {r2}};
  c.configure(args);
  r1->wal = true;
  EXPECT_FALSE(c.durable(pdata::Signal::kLogs));  // r2 has no WAL
  r2->wal = true;
  EXPECT_TRUE(c.durable(pdata::Signal::kLogs));
  EXPECT_FALSE(c.durable(pdata::Signal::kTraces));
}

TEST(LokiConsumerTest, ForwardsToEveryReceiverAndPropagatesRefusal) {
  metrics::Registry reg;
  LokiConsumer c("otelcol.exporter.loki.t", reg, log::Logger{});
  auto r1 = std::make_shared<FakeReceiver>();
  auto r2 = std::make_shared<FakeReceiver>();
  Arguments args;
  args.forward_to.push_back({r1});
  args.forward_to.push_back({r2});
  c.configure(args);
  EXPECT_TRUE(c.acceptsSignal(pdata::Signal::kLogs));
  EXPECT_FALSE(c.acceptsSignal(pdata::Signal::kTraces));

  Request req;
  auto* rl = req.add_resource_logs();
  auto* kv = rl->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("django-app");
  auto* rec = rl->add_scope_logs()->add_log_records();
  rec->set_time_unix_nano(1700000000000000001ULL);
  rec->mutable_body()->set_string_value("hello");
  auto batch = [&] {
    pdata::Batch pb;
    pb.signal = pdata::Signal::kLogs;
    pb.payload = req.SerializeAsString();
    pb.items = 1;
    auto ci = std::make_shared<pdata::ClientInfo>();
    ci->tenant = "t1";
    pb.client = ci;
    return pb;
  };
  ASSERT_TRUE(c.consume(batch()).ok());
  ASSERT_EQ(r1->got.size(), 1u);
  ASSERT_EQ(r2->got.size(), 1u);
  EXPECT_EQ(labelsOf(r2->got[0]),
            "__tenant_id__=t1;exporter=OTLP;job=django-app;service_name=django-app;");

  r2->status = absl::ResourceExhaustedError("full");
  auto st = c.consume(batch());
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  std::string text = reg.exposition();
  EXPECT_NE(text.find("telegate_otelcol_exporter_loki_entries_total{component_id="
                      "\"otelcol.exporter.loki.t\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("telegate_otelcol_exporter_loki_refused_entries_total{component_id="
                      "\"otelcol.exporter.loki.t\"} 1"),
            std::string::npos)
      << text;

  pdata::Batch bad;
  bad.signal = pdata::Signal::kLogs;
  bad.payload = "\xff\xff";
  EXPECT_EQ(c.consume(std::move(bad)).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace telegate::otelcol::exporter_loki
