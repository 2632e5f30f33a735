// libFuzzer target for otlpJsonToWire() (src/pdata/otlp_json_decode.cc).
//
// Decodes arbitrary bytes as OTLP/JSON for each of the three signals (must never crash). Whenever
// decoding succeeds, the wire bytes must pass checkAndCount() with the same item count, parse
// with protobuf, and fit the documented working-memory bound (otlpJsonWorkingMemory()); traps
// otherwise.
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <string_view>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/pdata/otlp_decode.h"

namespace {

namespace col = opentelemetry::proto::collector;
using telegate::pdata::Signal;

constexpr size_t kMaxInput = 256 * 1024;

bool protobufAccepts(Signal s, const std::string& wire) {
  switch (s) {
    case Signal::kLogs:
      return col::logs::v1::ExportLogsServiceRequest().ParseFromString(wire);
    case Signal::kTraces:
      return col::trace::v1::ExportTraceServiceRequest().ParseFromString(wire);
    case Signal::kMetrics:
      return col::metrics::v1::ExportMetricsServiceRequest().ParseFromString(wire);
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static google::protobuf::LogSilencer* silence = new google::protobuf::LogSilencer;
  (void)silence;
  if (size > kMaxInput) return 0;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  for (Signal s : {Signal::kLogs, Signal::kTraces, Signal::kMetrics}) {
    auto r = telegate::pdata::otlpJsonToWire(s, json);
    if (!r.ok()) continue;
    auto n = telegate::pdata::checkAndCount(s, r->wire);
    if (!n.ok() || *n != r->items) __builtin_trap();
    if (r->wire.capacity() > telegate::pdata::otlpJsonWorkingMemory(size)) __builtin_trap();
    if (!protobufAccepts(s, r->wire)) __builtin_trap();
  }
  return 0;
}
