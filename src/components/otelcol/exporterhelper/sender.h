// What an exporter's transport (OTLP/gRPC, OTLP/HTTP) implements for the exporter helper.
//
// Contract: send() makes one attempt to deliver `batch` before `deadline` and classifies the
// outcome; it never retries and never logs per attempt (the helper counts and rate-limits).
//   - status OK: delivered; `rejected_items` > 0 when the server accepted only part
//     (partial_success), with the server's message in `detail`.
//   - status not OK and `permanent`: the data can never be delivered (400, 404, INVALID_ARGUMENT):
//     the helper drops it and counts it.
//   - otherwise retryable; `retry_after` > 0 when the server asked for a delay (Retry-After,
//     google.rpc.RetryInfo): the next attempt waits at least that long.
// Payload ownership: send() may move `batch.payload` out (to hand the bytes to the transport
// without a copy) and leave it empty when the outcome is OK or permanent: the helper needs only
// signal, items and client after that. After a retryable failure the batch must be unchanged, as
// it is attempted again (or kept in a durable queue).
// Implementations are thread-safe: num_consumers threads call send() concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "src/pdata/batch.h"

namespace telegate::otelcol::exporterhelper {

struct SendResult {
  absl::Status status;
  bool permanent = false;
  std::chrono::nanoseconds retry_after{0};
  uint64_t rejected_items = 0;
  std::string detail;
};

class Sender {
 public:
  virtual ~Sender() = default;
  virtual SendResult send(pdata::Batch& batch, std::chrono::steady_clock::time_point deadline) = 0;
};

// The configured headers plus `X-Scope-OrgID: <tenant>` when the batch carries a tenant and the
// configuration does not set X-Scope-OrgID itself (any case). `lower_case_names` lower-cases
// every name (gRPC metadata keys must be lower case).
std::vector<std::pair<std::string, std::string>> requestHeaders(
    const std::map<std::string, std::string>& configured, const pdata::Batch& batch,
    bool lower_case_names);

}  // namespace telegate::otelcol::exporterhelper
