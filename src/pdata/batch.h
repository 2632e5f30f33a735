// Telemetry in flight between otelcol components.
//
// Contract: a Batch carries one signal's data as the protobuf wire encoding of the matching OTLP
// Export*ServiceRequest (ExportTraceServiceRequest, ExportMetricsServiceRequest,
// ExportLogsServiceRequest). Keeping the wire form lets components that do not look inside
// (batching, OTLP export to Tempo) pass bytes through without building an object tree per record;
// two such payloads concatenated are again a valid request holding both (protobuf repeated-field
// merge). `items` counts spans, metric data points or log records. `client` carries who sent it
// (the tenant bound to the token that authenticated the request) and survives batching.
// A Batch is moved, never shared: after handing it to a consumer the sender must not touch it,
// unless the consumer refused it with RESOURCE_EXHAUSTED or UNAVAILABLE (see
// src/components/otelcol/consumer.h): then it is unchanged and may be retried.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace telegate::pdata {

enum class Signal : uint8_t { kTraces = 0, kMetrics = 1, kLogs = 2 };
std::string_view signalName(Signal s);  // "traces", "metrics", "logs"

struct ClientInfo {
  std::string tenant;     // empty: no tenant bound
  std::string auth_name;  // name of the credential that authenticated the request (not secret)
};

struct Batch {
  Signal signal = Signal::kLogs;
  std::string payload;  // protobuf wire encoding of Export<Signal>ServiceRequest
  uint64_t items = 0;
  std::shared_ptr<const ClientInfo> client;
};

}  // namespace telegate::pdata
