// The seam between the OTLP servers (gRPC, HTTP) and the receiver component.
//
// Contract: a server authenticates a request with the AuthHandler it gets from `auth()` (null:
// no authentication configured), decodes the body into protobuf wire bytes, and calls
// Dispatcher::dispatch() synchronously on its own thread. dispatch() validates the payload
// (pdata::checkAndCount), counts it, and hands it to the `output` consumers of that signal; the
// returned status decides the answer:
//   OK                                  -> 200 / OK (empty Export*ServiceResponse)
//   INVALID_ARGUMENT                    -> 400 / INVALID_ARGUMENT (malformed, permanent)
//   RESOURCE_EXHAUSTED                  -> 429 / RESOURCE_EXHAUSTED, with Retry-After
//   UNAVAILABLE (and other transient)   -> 503 / UNAVAILABLE, with Retry-After
//   UNIMPLEMENTED                       -> 404 / UNIMPLEMENTED (no consumer for this signal)
//   other codes                         -> 500 / the same code
// retryAfterSeconds() is the Retry-After value servers send with 429/503 (and as RetryInfo on
// gRPC). All methods are thread-safe and called concurrently from server threads; the receiver
// swaps its configuration atomically on reload, so a server never sees a half-applied update.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "src/components/otelcol/auth/handler.h"
#include "src/pdata/batch.h"

namespace telegate::otelcol::receiver_otlp {

enum class Protocol { kGrpc, kHttpProtobuf, kHttpJson };
std::string_view protocolName(Protocol p);  // "grpc", "http_protobuf", "http_json"

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // False when `output` lists no consumer for the signal (HTTP 404, gRPC UNIMPLEMENTED).
  virtual bool hasSignal(pdata::Signal signal) const = 0;
  virtual absl::Status dispatch(pdata::Signal signal, std::string&& wire,
                                std::shared_ptr<const pdata::ClientInfo> client,
                                Protocol protocol) = 0;
  // Counts a request refused before dispatch (auth failure, bad encoding, too large...).
  // `reason` is a short label value: "unauthenticated", "malformed", "too_large",
  // "unsupported_media_type", "unsupported_encoding", "not_found".
  virtual void countRefused(pdata::Signal signal, Protocol protocol, std::string_view reason) = 0;
  virtual int retryAfterSeconds() const { return 5; }
};

}  // namespace telegate::otelcol::receiver_otlp
