// Micro-benchmark of otelcol.exporter.loki's conversion (OTLP logs -> Loki entries) on the
// realistic log payloads of bench/otlp_payloads.h: the default JSON lines and, with a
// loki.format=logfmt resource hint, logfmt lines. Reports records/s and bytes/s (of the input).
#include <benchmark/benchmark.h>

#include <string>

#include "bench/otlp_payloads.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/components/otelcol/exporter/loki/loki.h"

namespace telegate {
namespace {

constexpr int kRecords = 1000;

std::string payload(const char* format) {
  std::string wire = bench::makeLogsRequest(kRecords, 1);
  if (format == nullptr) return wire;
  opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest req;
  req.ParseFromString(wire);
  for (auto& rl : *req.mutable_resource_logs()) {
    auto* kv = rl.mutable_resource()->add_attributes();
    kv->set_key("loki.format");
    kv->mutable_value()->set_string_value(format);
  }
  return req.SerializeAsString();
}

void convert(benchmark::State& state, const std::string& body) {
  otelcol::exporter_loki::ConvertOptions opts;
  opts.now_ns = 1;
  otelcol::exporter_loki::ConvertResult result;
  for (auto _ : state) {
    auto st = otelcol::exporter_loki::convertLogsInto(body, opts, &result);
    if (!st.ok() || result.dropped != 0) state.SkipWithError("conversion failed");
    benchmark::DoNotOptimize(result.batch.text.data());
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}

void BM_LokiConvertJson(benchmark::State& state) {
  static const std::string body = payload(nullptr);
  convert(state, body);
}
BENCHMARK(BM_LokiConvertJson);

void BM_LokiConvertLogfmt(benchmark::State& state) {
  static const std::string body = payload("logfmt");
  convert(state, body);
}
BENCHMARK(BM_LokiConvertLogfmt);

}  // namespace
}  // namespace telegate

BENCHMARK_MAIN();
