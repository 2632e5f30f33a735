// libFuzzer target for checkAndCount() (src/pdata/otlp_wire.cc).
//
// Walks arbitrary bytes as each of the three OTLP export requests (must never crash). Whenever
// checkAndCount() accepts, protobuf's own parser must accept the same bytes and see the same number
// of items (spans, metric data points, log records); traps otherwise.
#include <google/protobuf/arena.h>
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <string_view>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/pdata/otlp_decode.h"

namespace {

namespace col = opentelemetry::proto::collector;
namespace metrics = opentelemetry::proto::metrics::v1;
using telegate::pdata::Signal;

uint64_t metricPoints(const metrics::Metric& m) {
  switch (m.data_case()) {
    case metrics::Metric::kGauge:
      return m.gauge().data_points_size();
    case metrics::Metric::kSum:
      return m.sum().data_points_size();
    case metrics::Metric::kHistogram:
      return m.histogram().data_points_size();
    case metrics::Metric::kExponentialHistogram:
      return m.exponential_histogram().data_points_size();
    case metrics::Metric::kSummary:
      return m.summary().data_points_size();
    default:
      return 0;
  }
}

// Parses with protobuf; returns false if protobuf rejects, else sets *items.
bool protobufItems(Signal s, std::string_view wire, uint64_t* items) {
  google::protobuf::Arena arena;
  const int size = static_cast<int>(wire.size());
  uint64_t n = 0;
  switch (s) {
    case Signal::kLogs: {
      auto* m =
          google::protobuf::Arena::CreateMessage<col::logs::v1::ExportLogsServiceRequest>(&arena);
      if (!m->ParseFromArray(wire.data(), size)) return false;
      for (const auto& rl : m->resource_logs())
        for (const auto& sl : rl.scope_logs()) n += sl.log_records_size();
      break;
    }
    case Signal::kTraces: {
      auto* m =
          google::protobuf::Arena::CreateMessage<col::trace::v1::ExportTraceServiceRequest>(&arena);
      if (!m->ParseFromArray(wire.data(), size)) return false;
      for (const auto& rs : m->resource_spans())
        for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
      break;
    }
    case Signal::kMetrics: {
      auto* m =
          google::protobuf::Arena::CreateMessage<col::metrics::v1::ExportMetricsServiceRequest>(
              &arena);
      if (!m->ParseFromArray(wire.data(), size)) return false;
      for (const auto& rm : m->resource_metrics())
        for (const auto& sm : rm.scope_metrics())
          for (const auto& met : sm.metrics()) n += metricPoints(met);
      break;
    }
  }
  *items = n;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static google::protobuf::LogSilencer* silence = new google::protobuf::LogSilencer;
  (void)silence;
  const std::string_view wire(reinterpret_cast<const char*>(data), size);
  for (Signal s : {Signal::kLogs, Signal::kTraces, Signal::kMetrics}) {
    auto n = telegate::pdata::checkAndCount(s, wire);
    if (!n.ok()) continue;
    uint64_t pb_items = 0;
    if (!protobufItems(s, wire, &pb_items)) __builtin_trap();  // we accepted, protobuf did not
    if (pb_items != *n) __builtin_trap();                      // item counts disagree
  }
  return 0;
}
