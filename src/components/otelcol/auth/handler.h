// The authentication handler exported by otelcol.auth.* components (`handler` export).
//
// Contract: authenticate() inspects request headers (HTTP headers or gRPC metadata, looked up
// case-insensitively by the caller-supplied function) and decides. It is called concurrently from
// receiver threads, never blocks, and never logs or returns the presented credential.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "src/pdata/batch.h"
#include "src/syntax/value.h"

namespace telegate::otelcol {

struct AuthResult {
  bool ok = false;
  std::string reason;   // on failure: "missing", "bad_scheme", "invalid_token", "no_tokens"
  std::string message;  // on failure: text for the client (never contains the credential)
  std::shared_ptr<const pdata::ClientInfo> client;  // on success
};

using HeaderLookup = std::function<std::string_view(std::string_view lower_name)>;

class AuthHandler : public syntax::Capsule {
 public:
  static constexpr std::string_view kCapsuleType = "otelcol.Handler";
  std::string_view capsuleType() const override { return kCapsuleType; }
  virtual AuthResult authenticate(const HeaderLookup& header) const = 0;
};

}  // namespace telegate::otelcol
