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
// Durability: durable(signal) is true when an OK from consume() for that signal means the data is
// persisted per this consumer's durability policy (written to a disk queue or WAL and synced as
// its `fsync` setting says) before consume() returns, or handed synchronously to consumers that
// are themselves durable. A buffer in front of a durable consumer must then not answer OK before
// the consumer did (otelcol.processor.batch passes such requests through). It is a cheap check
// (called per request), may change at any time (reload, downstream changes) and is false by
// default; any thread.
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
  virtual bool durable(pdata::Signal) const { return false; }
};

// True when `outs` is not empty and every consumer in it is durable for `s`.
inline bool allDurable(const std::vector<std::shared_ptr<Consumer>>& outs, pdata::Signal s) {
  if (outs.empty()) return false;
  for (const auto& c : outs) {
    if (c == nullptr || !c->durable(s)) return false;
  }
  return true;
}

using ConsumerPtr = std::shared_ptr<Consumer>;

}  // namespace telegate::otelcol
