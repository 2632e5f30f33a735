// Tests for countItems() and splitRequest() (otlp_split.cc): hand-built requests with known
// structure, and random requests (test_support, otlp_wire_test.cc) whose pieces, parsed back and
// flattened to (resource, scope, item) tuples, must equal the input's tuples in order.
#include "src/pdata/otlp_split.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/pdata/otlp_decode.h"
#include "src/pdata/otlp_test_support.h"

namespace telegate::pdata {

namespace {

namespace col_logs = opentelemetry::proto::collector::logs::v1;
namespace col_metrics = opentelemetry::proto::collector::metrics::v1;
namespace col_trace = opentelemetry::proto::collector::trace::v1;
namespace mv1 = opentelemetry::proto::metrics::v1;

constexpr Signal kSignals[] = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};

// One entry per item, or per container without children, carrying everything around it.
std::vector<std::string> flatten(Signal s, std::string_view wire) {
  std::vector<std::string> out;
  auto msg = test_support::newRequest(s);
  EXPECT_TRUE(msg->ParseFromArray(wire.data(), static_cast<int>(wire.size())));
  auto res = [](const auto& r) { return r.resource().SerializeAsString() + "|" + r.schema_url(); };
  auto scp = [](const auto& sc) { return sc.scope().SerializeAsString() + "|" + sc.schema_url(); };
  switch (s) {
    case Signal::kLogs:
      for (const auto& r : static_cast<col_logs::ExportLogsServiceRequest&>(*msg).resource_logs()) {
        if (r.scope_logs().empty()) out.push_back("R" + res(r));
        for (const auto& sc : r.scope_logs()) {
          if (sc.log_records().empty()) out.push_back("S" + res(r) + scp(sc));
          for (const auto& it : sc.log_records()) {
            out.push_back("I" + res(r) + scp(sc) + it.SerializeAsString());
          }
        }
      }
      break;
    case Signal::kTraces:
      for (const auto& r :
           static_cast<col_trace::ExportTraceServiceRequest&>(*msg).resource_spans()) {
        if (r.scope_spans().empty()) out.push_back("R" + res(r));
        for (const auto& sc : r.scope_spans()) {
          if (sc.spans().empty()) out.push_back("S" + res(r) + scp(sc));
          for (const auto& it : sc.spans()) {
            out.push_back("I" + res(r) + scp(sc) + it.SerializeAsString());
          }
        }
      }
      break;
    case Signal::kMetrics:
      for (const auto& r :
           static_cast<col_metrics::ExportMetricsServiceRequest&>(*msg).resource_metrics()) {
        if (r.scope_metrics().empty()) out.push_back("R" + res(r));
        for (const auto& sc : r.scope_metrics()) {
          if (sc.metrics().empty()) out.push_back("S" + res(r) + scp(sc));
          for (const auto& m : sc.metrics()) {
            // The metric without its points, then each point.
            mv1::Metric base = m;
            std::vector<std::string> points;
            auto take = [&](auto* data) {
              for (const auto& p : data->data_points()) points.push_back(p.SerializeAsString());
              data->clear_data_points();
            };
            switch (base.data_case()) {
              case mv1::Metric::kGauge:
                take(base.mutable_gauge());
                break;
              case mv1::Metric::kSum:
                take(base.mutable_sum());
                break;
              case mv1::Metric::kHistogram:
                take(base.mutable_histogram());
                break;
              case mv1::Metric::kExponentialHistogram:
                take(base.mutable_exponential_histogram());
                break;
              case mv1::Metric::kSummary:
                take(base.mutable_summary());
                break;
              default:
                break;
            }
            std::string prefix = res(r) + scp(sc) + base.SerializeAsString() + "|";
            if (points.empty()) out.push_back("M" + prefix);
            for (const auto& p : points) out.push_back("I" + prefix + p);
          }
        }
      }
      break;
  }
  return out;
}

// Splits, checks piece sizes and counts, and that the pieces hold exactly the input's items.
void checkSplit(Signal s, const std::string& wire, uint64_t max_items) {
  auto total = checkAndCount(s, wire);
  ASSERT_TRUE(total.ok()) << total.status();
  auto counted = countItems(s, wire);
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_EQ(*counted, *total);
  auto pieces = splitRequest(s, wire, max_items);
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  uint64_t sum = 0;
  std::vector<std::string> merged;
  for (size_t i = 0; i < pieces->size(); ++i) {
    const auto& p = (*pieces)[i];
    auto n = checkAndCount(s, p.wire);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, p.items);
    EXPECT_LE(p.items, max_items);
    if (i + 1 < pieces->size()) {
      EXPECT_EQ(p.items, max_items) << "piece " << i;
    }
    sum += p.items;
    auto f = flatten(s, p.wire);
    merged.insert(merged.end(), f.begin(), f.end());
  }
  EXPECT_EQ(sum, *total);
  EXPECT_EQ(merged, flatten(s, wire)) << signalName(s) << " max " << max_items;
  // Concatenated pieces are the original request again, item for item.
  std::string concat;
  for (const auto& p : *pieces) concat += p.wire;
  EXPECT_EQ(flatten(s, concat), flatten(s, wire));
}

col_logs::ExportLogsServiceRequest logsRequest(const std::vector<std::vector<int>>& shape) {
  // shape[r][s] = number of records in scope s of resource r.
  col_logs::ExportLogsServiceRequest req;
  int seq = 0;
  for (size_t r = 0; r < shape.size(); ++r) {
    auto* rl = req.add_resource_logs();
    auto* kv = rl->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("svc-" + std::to_string(r));
    rl->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
    for (size_t s = 0; s < shape[r].size(); ++s) {
      auto* sl = rl->add_scope_logs();
      sl->mutable_scope()->set_name("scope-" + std::to_string(s));
      for (int i = 0; i < shape[r][s]; ++i) {
        sl->add_log_records()->mutable_body()->set_string_value("r" + std::to_string(seq++));
      }
    }
  }
  return req;
}

TEST(SplitRequestTest, EmptyInputGivesNoPieces) {
  auto p = splitRequest(Signal::kLogs, "", 10);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->empty());
}

TEST(SplitRequestTest, SmallRequestIsOnePieceUnchanged) {
  std::string wire = logsRequest({{3, 4}}).SerializeAsString();
  for (uint64_t max : {0, 7, 100}) {
    auto p = splitRequest(Signal::kLogs, wire, max);
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(p->size(), 1u);
    EXPECT_EQ((*p)[0].wire, wire);
    EXPECT_EQ((*p)[0].items, 7u);
  }
}

TEST(SplitRequestTest, CutsInsideResourcesAndKeepsTheirFields) {
  std::string wire = logsRequest({{3, 4}, {5}}).SerializeAsString();
  auto p = splitRequest(Signal::kLogs, wire, 4);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 3u);
  // Piece 2 holds r4..r7: the tail of svc-0/scope-1 (r4..r6) and the head of svc-1 (r7).
  col_logs::ExportLogsServiceRequest second;
  ASSERT_TRUE(second.ParseFromString((*p)[1].wire));
  ASSERT_EQ(second.resource_logs_size(), 2);
  const auto& a = second.resource_logs(0);
  EXPECT_EQ(a.resource().attributes(0).value().string_value(), "svc-0");
  EXPECT_EQ(a.schema_url(), "https://opentelemetry.io/schemas/1.21.0");
  ASSERT_EQ(a.scope_logs_size(), 1);
  EXPECT_EQ(a.scope_logs(0).scope().name(), "scope-1");
  ASSERT_EQ(a.scope_logs(0).log_records_size(), 3);
  EXPECT_EQ(a.scope_logs(0).log_records(0).body().string_value(), "r4");
  const auto& b = second.resource_logs(1);
  EXPECT_EQ(b.resource().attributes(0).value().string_value(), "svc-1");
  ASSERT_EQ(b.scope_logs(0).log_records_size(), 1);
  EXPECT_EQ(b.scope_logs(0).log_records(0).body().string_value(), "r7");
  checkSplit(Signal::kLogs, wire, 4);
  for (uint64_t max = 1; max <= 12; ++max) checkSplit(Signal::kLogs, wire, max);
}

TEST(SplitRequestTest, FiveThousandByThreeThousand) {
  std::string wire = logsRequest({{1000, 1500}, {2500}}).SerializeAsString();
  auto p = splitRequest(Signal::kLogs, wire, 3000);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].items, 3000u);
  EXPECT_EQ((*p)[1].items, 2000u);
  checkSplit(Signal::kLogs, wire, 3000);
}

TEST(SplitRequestTest, CutsMetricDataPointsAndKeepsDescriptor) {
  col_metrics::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  auto* kv = rm->mutable_resource()->add_attributes();
  kv->set_key("host.name");
  kv->mutable_value()->set_string_value("node-1");
  auto* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name("meter");
  auto* m = sm->add_metrics();
  m->set_name("http.requests");
  m->set_description("requests served");
  m->set_unit("1");
  auto* sum = m->mutable_sum();
  sum->set_is_monotonic(true);
  sum->set_aggregation_temporality(mv1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  for (int i = 0; i < 7; ++i) sum->add_data_points()->set_as_int(i);
  auto* g = sm->add_metrics();
  g->set_name("temp");
  g->mutable_gauge()->add_data_points()->set_as_double(1.5);
  std::string wire = req.SerializeAsString();

  auto p = splitRequest(Signal::kMetrics, wire, 3);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 3u);
  col_metrics::ExportMetricsServiceRequest last;
  ASSERT_TRUE(last.ParseFromString((*p)[2].wire));
  ASSERT_EQ(last.resource_metrics_size(), 1);
  EXPECT_EQ(last.resource_metrics(0).resource().attributes(0).value().string_value(), "node-1");
  const auto& ms = last.resource_metrics(0).scope_metrics(0);
  EXPECT_EQ(ms.scope().name(), "meter");
  ASSERT_EQ(ms.metrics_size(), 2);
  EXPECT_EQ(ms.metrics(0).name(), "http.requests");
  EXPECT_EQ(ms.metrics(0).unit(), "1");
  EXPECT_TRUE(ms.metrics(0).sum().is_monotonic());
  EXPECT_EQ(ms.metrics(0).sum().aggregation_temporality(), mv1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  ASSERT_EQ(ms.metrics(0).sum().data_points_size(), 1);
  EXPECT_EQ(ms.metrics(0).sum().data_points(0).as_int(), 6);
  EXPECT_EQ(ms.metrics(1).name(), "temp");
  for (uint64_t max = 1; max <= 9; ++max) checkSplit(Signal::kMetrics, wire, max);
}

TEST(SplitRequestTest, TracesKeepScopeAndSchemaUrl) {
  col_trace::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  rs->mutable_resource()->add_attributes()->set_key("k8s.pod.name");
  rs->set_schema_url("s1");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("tracer");
  ss->mutable_scope()->set_version("1.0");
  ss->set_schema_url("s2");
  for (int i = 0; i < 5; ++i) ss->add_spans()->set_name("span" + std::to_string(i));
  rs->add_scope_spans();  // an empty scope stays where it is
  std::string wire = req.SerializeAsString();
  auto p = splitRequest(Signal::kTraces, wire, 2);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 3u);
  col_trace::ExportTraceServiceRequest mid;
  ASSERT_TRUE(mid.ParseFromString((*p)[1].wire));
  EXPECT_EQ(mid.resource_spans(0).schema_url(), "s1");
  EXPECT_EQ(mid.resource_spans(0).resource().attributes(0).key(), "k8s.pod.name");
  EXPECT_EQ(mid.resource_spans(0).scope_spans(0).scope().version(), "1.0");
  EXPECT_EQ(mid.resource_spans(0).scope_spans(0).schema_url(), "s2");
  EXPECT_EQ(mid.resource_spans(0).scope_spans(0).spans(1).name(), "span3");
  for (uint64_t max = 1; max <= 6; ++max) checkSplit(Signal::kTraces, wire, max);
}

TEST(SplitRequestTest, ConcatenatedRequestsSplitLikeOne) {
  std::string a = logsRequest({{2}}).SerializeAsString();
  std::string b = logsRequest({{3}, {1}}).SerializeAsString();
  checkSplit(Signal::kLogs, a + b, 3);
  auto p = splitRequest(Signal::kLogs, a + b, 3);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].items, 3u);
  EXPECT_EQ((*p)[1].items, 3u);
}

TEST(SplitRequestTest, RejectsMalformedFraming) {
  std::string wire = logsRequest({{3, 4}}).SerializeAsString();
  std::string cut = wire.substr(0, wire.size() - 3);
  EXPECT_EQ(splitRequest(Signal::kLogs, cut, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(countItems(Signal::kLogs, "\x0a\xff").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SplitRequestTest, RandomRequestsRoundTrip) {
  std::mt19937_64 rng(20261124);
  for (Signal s : kSignals) {
    for (int i = 0; i < 150; ++i) {
      std::string wire;
      for (int k = 0; k < 3; ++k)
        wire += test_support::randomRequest(s, rng, 5)->SerializeAsString();
      for (uint64_t max : {1, 2, 3, 5, 8, 13}) {
        checkSplit(s, wire, max);
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
}

}  // namespace
}  // namespace telegate::pdata
