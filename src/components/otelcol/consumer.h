// The otelcol pipeline contract: what `output { traces = [...] }` lists and `input` exports.
//
// Contract: consume() returns synchronously:
//   - OK: the consumer has taken responsibility for the data (queued durably or in memory, or
//     delivered). Receivers answer 200 / OK only after this.
//   - RESOURCE_EXHAUSTED or UNAVAILABLE: refused for now (queue full, backend outage with no
//     room); the sender may retry. Receivers answer 429/503 (HTTP) or the same gRPC code.
//   - INVALID_ARGUMENT: the data is malformed and will never be accepted (permanent).
//   - Any other code: treated as a permanent failure of this request.
// Ownership: the batch is passed by rvalue reference, and what the caller may rely on afterwards
// depends on the status:
//   - RESOURCE_EXHAUSTED or UNAVAILABLE: the consumer has neither moved from nor modified the
//     batch; the caller still holds it exactly as it was and may hand the same object to another
//     consumer or retry it later. (otelcol.processor.batch relies on this to give its only copy
//     of a batch to its last output and retry it after a refusal.)
//   - OK or any other code: the consumer may have moved from the batch (or parts of it); the
//     caller must not read it again, only destroy it or assign to it.
// consume() is called concurrently from many threads and never blocks for long; a consumer that
// does not handle a signal returns UNIMPLEMENTED (acceptsSignal() tells up front).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "src/pdata/batch.h"
#include "src/syntax/value.h"

namespace telegate::otelcol {

class Consumer : public syntax::Capsule {
 public:
  static constexpr std::string_view kCapsuleType = "otelcol.Consumer";
  std::string_view capsuleType() const override { return kCapsuleType; }
  virtual bool acceptsSignal(pdata::Signal s) const = 0;
  virtual absl::Status consume(pdata::Batch&& batch) = 0;
};

using ConsumerPtr = std::shared_ptr<Consumer>;

}  // namespace telegate::otelcol
