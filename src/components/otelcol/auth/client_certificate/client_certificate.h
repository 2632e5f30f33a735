// otelcol.auth.client_certificate: authenticates receiver requests by the verified client
// certificate of their (mutual TLS) connection, alone or together with a bearer token.
// telegate's own component; Alloy has no equivalent.
//
// Contract: exports `handler` (capsule otelcol.Handler) for the `auth` argument of
// otelcol.receiver.otlp. Arguments:
//   - `identity` blocks (at least one), in order: exactly one of `common_name`, `dns`, `uri`,
//     `email` (the certificate field compared), `match` = "exact" (default) or "regex" (RE2,
//     whole value), and the client it authenticates as: `name` (credential name in metrics and
//     ClientInfo::auth_name; default "<field>:<value>") and `tenant` (carried with the data,
//     sent by exporters as X-Scope-OrgID; empty = none). The first block that matches wins.
//   - `mode`: "certificate" (default), "certificate_and_token" or "certificate_or_token"; see
//     cert_handler.h for how they combine.
//   - `bearer`: the token handler (e.g. otelcol.auth.bearer.x.handler); required by the two token
//     modes and refused with "certificate", so a configured token is never silently ignored.
// Only certificates the receiver's TLS layer verified against its client CA count; the receiver
// must therefore set `client_ca_file` in its `tls` block.
// update() swaps the configuration atomically; the exported handler object is the same across
// reloads, so receivers keep their reference. Health: healthy with the number of identities.
//
// Threading: constructor and update() on the controller thread; the handler is used from
// receiver threads (see cert_handler.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/components/otelcol/auth/client_certificate/cert_handler.h"
#include "src/runtime/component.h"

namespace telegate::otelcol::client_certificate {

struct IdentityBlock {
  std::string common_name;
  std::string dns;
  std::string uri;
  std::string email;
  std::string match = "exact";
  std::string name;
  std::string tenant;
  static void describe(runtime::Schema<IdentityBlock>& s);
  absl::Status validate() const;
  // The decoded identity (validate() must have succeeded).
  Identity identity() const;
};

struct Arguments {
  std::vector<IdentityBlock> identity;
  std::string mode = "certificate";
  std::optional<runtime::CapsuleRef<AuthHandler>> bearer;
  static void describe(runtime::Schema<Arguments>& s);
  absl::Status validate() const;
};

absl::StatusOr<Mode> parseMode(std::string_view mode);

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args);
  absl::Status update(const Arguments& args) override;

 private:
  absl::Status apply(const Arguments& args);

  runtime::Host& host_;
  std::shared_ptr<ClientCertificateHandler> handler_;
};

}  // namespace telegate::otelcol::client_certificate
