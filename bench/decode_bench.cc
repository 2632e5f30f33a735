// Micro-benchmarks of the OTLP ingest decoders on realistic payloads (bench/otlp_payloads.h):
// checkAndCount() on protobuf bodies, otlpJsonToWire() on OTLP/JSON bodies (and on a garbage body
// it must refuse early), and protobuf's own ParseFromString() on an Arena for comparison. Reports
// items/s and bytes/s (of the input).
#include <benchmark/benchmark.h>
#include <google/protobuf/arena.h>

#include <cstdlib>
#include <memory>

#include "bench/otlp_payloads.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/pdata/otlp_decode.h"
#include "src/pdata/otlp_json.h"

namespace telegate {
namespace {

using pdata::Signal;

constexpr int kItems = 1000;

const std::string& wirePayload(Signal s) {
  static const std::string payloads[] = {
      bench::makeRequest(Signal::kTraces, kItems, 1),
      bench::makeRequest(Signal::kMetrics, kItems, 1),
      bench::makeRequest(Signal::kLogs, kItems, 1),
  };
  return payloads[static_cast<int>(s)];
}

const std::string& jsonPayload(Signal s) {
  static const std::string payloads[] = {
      *pdata::toOtlpJson(Signal::kTraces, wirePayload(Signal::kTraces)),
      *pdata::toOtlpJson(Signal::kMetrics, wirePayload(Signal::kMetrics)),
      *pdata::toOtlpJson(Signal::kLogs, wirePayload(Signal::kLogs)),
  };
  return payloads[static_cast<int>(s)];
}

void report(benchmark::State& state, size_t bytes) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kItems);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["bytes_per_item"] = static_cast<double>(bytes) / kItems;
}

void BM_CheckAndCount(benchmark::State& state, Signal s) {
  const std::string& wire = wirePayload(s);
  for (auto _ : state) {
    auto n = pdata::checkAndCount(s, wire);
    if (!n.ok() || *n != kItems) std::abort();
    benchmark::DoNotOptimize(n);
  }
  report(state, wire.size());
}

void BM_OtlpJsonToWire(benchmark::State& state, Signal s) {
  const std::string& json = jsonPayload(s);
  for (auto _ : state) {
    auto r = pdata::otlpJsonToWire(s, json);
    if (!r.ok() || r->items != kItems) std::abort();
    benchmark::DoNotOptimize(r);
  }
  report(state, json.size());
}

// Refusing an amplification body: 4 MiB of {"resourceLogs":[0,0,...]} must fail at its first
// element (bytes/s here is of the whole body, so it shows how little of it is looked at).
void BM_OtlpJsonToWireRejectsGarbage(benchmark::State& state) {
  std::string json = "{\"resourceLogs\":[0";
  while (json.size() < (4u << 20)) json += ",0";
  json += "]}";
  for (auto _ : state) {
    auto r = pdata::otlpJsonToWire(Signal::kLogs, json);
    if (r.ok()) std::abort();
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * json.size()));
}

namespace col = opentelemetry::proto::collector;

void BM_ProtobufParseArena(benchmark::State& state, Signal s) {
  const std::string& wire = wirePayload(s);
  for (auto _ : state) {
    google::protobuf::Arena arena;
    google::protobuf::Message* m = nullptr;
    switch (s) {
      case Signal::kTraces:
        m = google::protobuf::Arena::CreateMessage<col::trace::v1::ExportTraceServiceRequest>(
            &arena);
        break;
      case Signal::kMetrics:
        m = google::protobuf::Arena::CreateMessage<col::metrics::v1::ExportMetricsServiceRequest>(
            &arena);
        break;
      case Signal::kLogs:
        m = google::protobuf::Arena::CreateMessage<col::logs::v1::ExportLogsServiceRequest>(&arena);
        break;
    }
    if (!m->ParseFromString(wire)) std::abort();
    benchmark::DoNotOptimize(m);
  }
  report(state, wire.size());
}

BENCHMARK_CAPTURE(BM_CheckAndCount, logs, Signal::kLogs);
BENCHMARK_CAPTURE(BM_CheckAndCount, traces, Signal::kTraces);
BENCHMARK_CAPTURE(BM_CheckAndCount, metrics, Signal::kMetrics);
BENCHMARK_CAPTURE(BM_OtlpJsonToWire, logs, Signal::kLogs);
BENCHMARK_CAPTURE(BM_OtlpJsonToWire, traces, Signal::kTraces);
BENCHMARK_CAPTURE(BM_OtlpJsonToWire, metrics, Signal::kMetrics);
BENCHMARK(BM_OtlpJsonToWireRejectsGarbage);
BENCHMARK_CAPTURE(BM_ProtobufParseArena, logs, Signal::kLogs);
BENCHMARK_CAPTURE(BM_ProtobufParseArena, traces, Signal::kTraces);
BENCHMARK_CAPTURE(BM_ProtobufParseArena, metrics, Signal::kMetrics);

}  // namespace
}  // namespace telegate

BENCHMARK_MAIN();
