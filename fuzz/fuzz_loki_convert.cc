// libFuzzer target for otelcol.exporter.loki's conversion (src/components/otelcol/exporter/loki:
// the wire reader of otlp_reader.h over pdata/wire.h, the value helpers, the converter).
//
// Converts arbitrary bytes as an ExportLogsServiceRequest (must never crash) and checks it against
// protobuf: the conversion succeeds exactly when protobuf's parser accepts the bytes, and then
// every log record protobuf sees becomes one entry or one counted drop; traps otherwise.
// Corpus: fuzz/corpus/otlp_wire (the logs requests there).
#include <cstdint>
#include <string_view>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/components/otelcol/exporter/loki/loki.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace exporter_loki = telegate::otelcol::exporter_loki;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  exporter_loki::ConvertOptions opts;
  opts.now_ns = 1;
  opts.tenant = "fuzz";
  exporter_loki::ConvertResult result;
  const bool converted = exporter_loki::convertLogsInto(in, opts, &result).ok();

  opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest req;
  const bool parsed = req.ParseFromArray(data, static_cast<int>(size));
  if (converted != parsed) __builtin_trap();
  if (!parsed) return 0;
  uint64_t records = 0;
  for (const auto& rl : req.resource_logs()) {
    for (const auto& sl : rl.scope_logs()) records += static_cast<uint64_t>(sl.log_records_size());
  }
  if (result.batch.size() + result.dropped != records) __builtin_trap();
  return 0;
}
