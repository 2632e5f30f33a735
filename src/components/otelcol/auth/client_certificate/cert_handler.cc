#include "src/components/otelcol/auth/client_certificate/cert_handler.h"

#include <array>

#include "src/common/strings.h"

namespace telegate::otelcol::client_certificate {

namespace {

using Reasons = std::array<std::string_view, ClientCertificateHandler::kTokenReasonCount>;
constexpr Reasons kTokenReasons = {"missing", "bad_scheme", "invalid_token", "no_credentials"};

std::string_view noHeaders(std::string_view) {
  return {};
}

}  // namespace

ClientCertificateHandler::ClientCertificateHandler(std::string component_id,
                                                   metrics::Registry& metrics)
    : id_(std::move(component_id)) {
  fails_ = &metrics.counter("telegate_auth_failures_total",
                            "Requests refused by an authenticator, by reason.",
                            {"component_id", "reason"});
  ok_ = &metrics.counter("telegate_auth_successes_total",
                         "Requests an authenticator accepted, by tenant.",
                         {"component_id", "tenant"});
  matched_ = &metrics.counter(
      "telegate_auth_certificate_identity_requests_total",
      "Requests authenticated by a client certificate identity, by the identity's name.",
      {"component_id", "name"});
  fail_no_cert_ = &fails_->with({id_, "no_client_certificate"});
  fail_unknown_ = &fails_->with({id_, "unknown_identity"});
  fail_conflict_ = &fails_->with({id_, "tenant_conflict"});
  for (size_t i = 0; i < kTokenReasons.size(); ++i) {
    fail_token_[i] = &fails_->with({id_, std::string(kTokenReasons[i])});
  }
  fail_token_[kTokenReasons.size()] = &fails_->with({id_, "token_refused"});
  state_.store(std::make_shared<State>());
}

absl::Status ClientCertificateHandler::set(Mode mode, const std::vector<Identity>& identities,
                                           std::shared_ptr<const AuthHandler> token) {
  std::vector<Rule> rules;
  rules.reserve(identities.size());
  for (const auto& id : identities) rules.push_back(id.rule);
  if (mode != Mode::kCertificate && !token) {
    return absl::InvalidArgumentError("this mode needs a token authenticator (bearer)");
  }
  auto map = IdentityMap::build(rules);
  if (!map.ok()) return map.status();
  auto st = std::make_shared<State>();
  st->mode = mode;
  st->map = std::move(*map);
  st->token = std::move(token);
  for (const auto& id : identities) {
    auto c = std::make_shared<pdata::ClientInfo>();
    c->tenant = id.tenant;
    c->auth_name = id.name;
    Resolved r;
    r.client = std::move(c);
    // Children are created here, at configuration time, so requests never take the family lock.
    r.ok = &ok_->with({id_, id.tenant});
    r.matched = &matched_->with({id_, id.name});
    st->identities.push_back(std::move(r));
  }
  state_.store(std::move(st));
  return absl::OkStatus();
}

size_t ClientCertificateHandler::identityCount() const {
  return state_.load()->identities.size();
}

AuthResult ClientCertificateHandler::fail(metrics::Counter* counter, std::string reason,
                                          std::string message) const {
  counter->inc();
  AuthResult r;
  r.reason = std::move(reason);
  r.message = std::move(message);
  return r;
}

AuthResult ClientCertificateHandler::tokenRefused(AuthResult r) const {
  size_t i = 0;
  while (i < kTokenReasons.size() && r.reason != kTokenReasons[i]) ++i;
  fail_token_[i]->inc();  // i == size(): token_refused
  r.ok = false;
  r.client.reset();
  return r;
}

AuthResult ClientCertificateHandler::checkToken(const State& st, const AuthRequest& req) const {
  if (st.token) return st.token->authenticate(req);
  AuthResult r;  // set() refuses this configuration; kept so a null handler can never crash
  r.reason = "no_credentials";
  r.message = "no token authenticator is configured";
  return r;
}

AuthResult ClientCertificateHandler::authenticate(const HeaderLookup& header) const {
  return authenticate(AuthRequest{header, nullptr});
}

AuthResult ClientCertificateHandler::authenticate(const AuthRequest& request) const {
  auto st = state_.load();
  // A request without a header lookup has no headers.
  AuthRequest no_headers;
  if (!request.header) no_headers = AuthRequest{HeaderLookup(noHeaders), request.peer};
  const AuthRequest& req = request.header ? request : no_headers;

  // The certificate's verdict: an identity index, or why there is none.
  int idx = -1;
  bool has_cert = req.peer != nullptr && req.peer->verified;
  if (has_cert && st->map) idx = st->map->match(*req.peer);

  if (st->mode == Mode::kCertificateOrToken) {
    if (idx >= 0) {
      const Resolved& id = st->identities[idx];
      id.ok->inc();
      id.matched->inc();
      return AuthResult{true, "", "", id.client};
    }
    AuthResult r = checkToken(*st, req);
    if (!r.ok) {
      r.message = strCat(
          has_cert ? "client certificate identity is not mapped" : "no verified client certificate",
          ", and the token was refused: ", r.message);
      return tokenRefused(std::move(r));
    }
    ok_->with({id_, r.client ? r.client->tenant : ""}).inc();
    return r;
  }

  if (!has_cert) {
    return fail(fail_no_cert_, "no_client_certificate",
                "a verified client certificate is required (mutual TLS)");
  }
  if (idx < 0) {
    return fail(fail_unknown_, "unknown_identity",
                "the client certificate's identity is not mapped to a credential");
  }
  const Resolved& id = st->identities[idx];
  if (st->mode == Mode::kCertificate) {
    id.ok->inc();
    id.matched->inc();
    return AuthResult{true, "", "", id.client};
  }

  // kCertificateAndToken.
  AuthResult t = checkToken(*st, req);
  if (!t.ok) return tokenRefused(std::move(t));
  const std::string& token_tenant = t.client ? t.client->tenant : std::string();
  std::shared_ptr<const pdata::ClientInfo> client = id.client;
  if (!token_tenant.empty() && token_tenant != id.client->tenant) {
    if (!id.client->tenant.empty()) {
      return fail(fail_conflict_, "tenant_conflict",
                  "the token is bound to another tenant than the client certificate");
    }
    // The identity binds no tenant: the token's tenant applies, the credential name stays the
    // certificate's.
    auto c = std::make_shared<pdata::ClientInfo>();
    c->tenant = token_tenant;
    c->auth_name = id.client->auth_name;
    client = std::move(c);
    ok_->with({id_, token_tenant}).inc();
  } else {
    id.ok->inc();
  }
  id.matched->inc();
  return AuthResult{true, "", "", std::move(client)};
}

}  // namespace telegate::otelcol::client_certificate
