// The `handler` exported by otelcol.auth.client_certificate: authenticates a request by the
// verified client certificate of its connection, optionally together with a token checked by
// another handler (otelcol.auth.bearer).
//
// Contract: authenticate(AuthRequest) reads `peer`; only a verified identity counts. Modes:
//   * kCertificate: the certificate must map to an identity; headers are not read.
//   * kCertificateAndToken: the certificate must map and the token handler must accept the
//     request. The client is the certificate's identity (credential name, tenant). When the
//     identity binds a tenant and the token binds a different non-empty one the request is
//     refused ("tenant_conflict"); when the identity binds none, the token's tenant applies.
//   * kCertificateOrToken: the certificate's identity when it maps, else whatever the token
//     handler decides (its client, or its refusal).
// Failures carry the reason "no_client_certificate" (no peer, or not verified),
// "unknown_identity" (verified but no rule matches), "tenant_conflict", or the token handler's
// own reason; each is counted in telegate_auth_failures_total{component_id,reason} (token
// refusals with the token handler's reason: missing, bad_scheme, invalid_token, no_credentials,
// anything else as token_refused). Successes count in
// telegate_auth_successes_total{component_id,tenant} and, for certificate identities, in
// telegate_auth_certificate_identity_requests_total{component_id,name}. Messages never contain
// the token or certificate contents.
// The header-only authenticate(HeaderLookup) is a request without a certificate.
//
// Threading: set() swaps the whole configuration atomically (receivers see the old or the new
// one, never a mix) and may run concurrently with authenticate(), which never blocks on a lock
// on the certificate path.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "src/common/metrics.h"
#include "src/components/otelcol/auth/client_certificate/identity_map.h"
#include "src/components/otelcol/auth/handler.h"

namespace telegate::otelcol::client_certificate {

enum class Mode { kCertificate, kCertificateAndToken, kCertificateOrToken };

// One configured identity: the rule and the client it authenticates as.
struct Identity {
  Rule rule;
  std::string name;
  std::string tenant;
};

class ClientCertificateHandler : public AuthHandler {
 public:
  // Token handler reasons counted under their own name (missing, bad_scheme, invalid_token,
  // no_credentials); any other counts as token_refused.
  static constexpr size_t kTokenReasonCount = 4;
  ClientCertificateHandler(std::string component_id, metrics::Registry& metrics);
  // Fails (and keeps the previous configuration) when a rule does not compile, or when `mode`
  // needs a token handler and `token` is null.
  absl::Status set(Mode mode, const std::vector<Identity>& identities,
                   std::shared_ptr<const AuthHandler> token);
  AuthResult authenticate(const HeaderLookup& header) const override;
  AuthResult authenticate(const AuthRequest& request) const override;
  std::string describe() const override { return id_ + ".handler"; }
  size_t identityCount() const;

 private:
  struct Resolved {
    std::shared_ptr<const pdata::ClientInfo> client;
    metrics::Counter* ok;       // successes_total{tenant}
    metrics::Counter* matched;  // certificate_identity_requests_total{name}
  };
  struct State {
    Mode mode = Mode::kCertificate;
    std::shared_ptr<const IdentityMap> map;
    std::vector<Resolved> identities;
    std::shared_ptr<const AuthHandler> token;
  };
  AuthResult fail(metrics::Counter* counter, std::string reason, std::string message) const;
  AuthResult tokenRefused(AuthResult r) const;
  AuthResult checkToken(const State& st, const AuthRequest& req) const;

  std::string id_;
  metrics::Family<metrics::Counter>* fails_;
  metrics::Family<metrics::Counter>* ok_;
  metrics::Family<metrics::Counter>* matched_;
  metrics::Counter* fail_no_cert_;
  metrics::Counter* fail_unknown_;
  metrics::Counter* fail_conflict_;
  // The token handler's reasons counted under their own name, then token_refused.
  std::array<metrics::Counter*, kTokenReasonCount + 1> fail_token_{};
  std::atomic<std::shared_ptr<const State>> state_;
};

}  // namespace telegate::otelcol::client_certificate
