// The authentication handler exported by otelcol.auth.* components (`handler` export).
//
// Contract: authenticate() decides whether a request is accepted and, when it is, which client
// (credential name, tenant) sent it. It sees the request headers (HTTP headers or gRPC metadata,
// looked up case-insensitively by the caller-supplied function, which returns "" for an absent
// header) and, through AuthRequest, the verified client certificate of the connection when the
// receiver has one. Receivers call authenticate(const AuthRequest&); a handler that only reads
// headers implements authenticate(const HeaderLookup&), to which the default
// authenticate(const AuthRequest&) forwards. Handlers never log or return the presented
// credential.
//
// Threading: authenticate() is called concurrently from receiver threads and never blocks.
// AuthRequest borrows: `header` and `*peer` need only stay valid for the duration of the call.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "src/pdata/batch.h"
#include "src/syntax/value.h"

namespace telegate::net::tls {
struct PeerIdentity;  // src/net/tls/tls.h
}  // namespace telegate::net::tls

namespace telegate::otelcol {

struct AuthResult {
  bool ok = false;
  // On failure, a stable word for metrics and logs: "missing", "bad_scheme", "invalid_token",
  // "no_credentials" (bearer); "no_client_certificate", "unknown_identity", "tenant_conflict"
  // (client certificates).
  std::string reason;
  std::string message;  // on failure: text for the client (never contains the credential)
  std::shared_ptr<const pdata::ClientInfo> client;  // on success
};

using HeaderLookup = std::function<std::string_view(std::string_view lower_name)>;

// What a receiver knows about one request.
struct AuthRequest {
  HeaderLookup header;
  // The connection's client certificate as the TLS layer reported it: nullptr for plaintext or
  // when the receiver does not track it; otherwise only trusted when peer->verified.
  const net::tls::PeerIdentity* peer = nullptr;
};

class AuthHandler : public syntax::Capsule {
 public:
  static constexpr std::string_view kCapsuleType = "otelcol.Handler";
  std::string_view capsuleType() const override { return kCapsuleType; }
  // Header-only authentication.
  virtual AuthResult authenticate(const HeaderLookup& header) const = 0;
  // Full request; the default ignores the peer certificate and checks the headers.
  virtual AuthResult authenticate(const AuthRequest& request) const {
    return authenticate(request.header);
  }
};

}  // namespace telegate::otelcol
