#include "src/components/otelcol/auth/client_certificate/client_certificate.h"

#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::client_certificate {

void IdentityBlock::describe(runtime::Schema<IdentityBlock>& s) {
  s.attr("common_name", &IdentityBlock::common_name)
      .doc("the certificate's subject common name (CN) to match");
  s.attr("dns", &IdentityBlock::dns).doc("a DNS subject alternative name to match");
  s.attr("uri", &IdentityBlock::uri)
      .doc("a URI subject alternative name to match (e.g. a SPIFFE ID)");
  s.attr("email", &IdentityBlock::email).doc("an e-mail subject alternative name to match");
  s.attr("match", &IdentityBlock::match)
      .doc("\"exact\" or \"regex\" (RE2, must match the whole value)");
  s.attr("name", &IdentityBlock::name)
      .doc("credential name in metrics; default: field and value, e.g. \"common_name:team-a\"");
  s.attr("tenant", &IdentityBlock::tenant).doc("tenant bound to this identity");
}

namespace {

struct FieldValue {
  Field field;
  const std::string* value;
};

std::vector<FieldValue> setFields(const IdentityBlock& b) {
  std::vector<FieldValue> out;
  if (!b.common_name.empty()) out.push_back({Field::kCommonName, &b.common_name});
  if (!b.dns.empty()) out.push_back({Field::kDns, &b.dns});
  if (!b.uri.empty()) out.push_back({Field::kUri, &b.uri});
  if (!b.email.empty()) out.push_back({Field::kEmail, &b.email});
  return out;
}

}  // namespace

absl::Status IdentityBlock::validate() const {
  auto fields = setFields(*this);
  if (fields.size() != 1) {
    return absl::InvalidArgumentError(
        "an identity needs exactly one of common_name, dns, uri and email");
  }
  if (match != "exact" && match != "regex") {
    return absl::InvalidArgumentError(
        strCat("match: unknown value \"", match, "\" (use \"exact\" or \"regex\")"));
  }
  if (match == "regex") {
    auto built = IdentityMap::build({identity().rule});
    if (!built.ok()) {
      // The map names the rule by position 1; here the block itself is the position.
      std::string msg(built.status().message());
      return absl::InvalidArgumentError(msg.substr(msg.find(": ") + 2));
    }
  }
  return absl::OkStatus();
}

Identity IdentityBlock::identity() const {
  Identity id;
  auto fields = setFields(*this);
  if (!fields.empty()) {
    id.rule.field = fields[0].field;
    id.rule.value = *fields[0].value;
  }
  id.rule.regex = match == "regex";
  id.name = name.empty() ? strCat(fieldName(id.rule.field), ":", id.rule.value) : name;
  id.tenant = tenant;
  return id;
}

absl::StatusOr<Mode> parseMode(std::string_view mode) {
  if (mode == "certificate") return Mode::kCertificate;
  if (mode == "certificate_and_token") return Mode::kCertificateAndToken;
  if (mode == "certificate_or_token") return Mode::kCertificateOrToken;
  return absl::InvalidArgumentError(
      strCat("mode: unknown value \"", mode,
             "\" (use \"certificate\", \"certificate_and_token\" or \"certificate_or_token\")"));
}

void Arguments::describe(runtime::Schema<Arguments>& s) {
  s.block("identity", &Arguments::identity)
      .doc("a certificate identity and the credential it maps to; the first match wins");
  s.attr("mode", &Arguments::mode)
      .doc("\"certificate\", \"certificate_and_token\" or \"certificate_or_token\"");
  s.attr("bearer", &Arguments::bearer)
      .doc("token authenticator for the token modes, e.g. otelcol.auth.bearer.x.handler");
}

absl::Status Arguments::validate() const {
  auto m = parseMode(mode);
  if (!m.ok()) return m.status();
  if (identity.empty()) {
    return absl::InvalidArgumentError(
        "at least one identity block is required: without one no certificate is accepted");
  }
  bool has_bearer = bearer.has_value() && bool(*bearer);
  if (*m == Mode::kCertificate && has_bearer) {
    return absl::InvalidArgumentError(
        "bearer is only used with mode \"certificate_and_token\" or \"certificate_or_token\"; "
        "with mode \"certificate\" the token would be ignored");
  }
  if (*m != Mode::kCertificate && !has_bearer) {
    return absl::InvalidArgumentError(strCat("mode \"", mode, "\" needs bearer"));
  }
  return absl::OkStatus();
}

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host), handler_(std::make_shared<ClientCertificateHandler>(host.id(), host.metrics())) {
  auto st = apply(args);
  if (!st.ok())
    host_.logger().error("configuration not applied", {{"err", std::string(st.message())}});
  host_.setExports({{"handler", syntax::Value::capsule(handler_)}});
}

absl::Status Component::apply(const Arguments& args) {
  auto mode = parseMode(args.mode);
  if (!mode.ok()) return mode.status();
  std::vector<Identity> ids;
  ids.reserve(args.identity.size());
  for (const auto& b : args.identity) ids.push_back(b.identity());
  std::shared_ptr<const AuthHandler> token;
  if (args.bearer && *args.bearer) token = args.bearer->ptr;
  auto st = handler_->set(*mode, ids, std::move(token));
  if (!st.ok()) {
    host_.setHealth(runtime::HealthState::kUnhealthy, std::string(st.message()));
    return st;
  }
  host_.setHealth(
      runtime::HealthState::kHealthy,
      strCat(handler_->identityCount(), " identit", handler_->identityCount() == 1 ? "y" : "ies",
             " configured, mode ", args.mode));
  return absl::OkStatus();
}

absl::Status Component::update(const Arguments& args) {
  return apply(args);
}

}  // namespace telegate::otelcol::client_certificate

namespace telegate::components {
void registerOtelcolAuthClientCertificate() {
  runtime::registerComponent<otelcol::client_certificate::Component>(
      "otelcol.auth.client_certificate",
      "Client-certificate (mutual TLS) authentication for otelcol receivers, alone or with a "
      "bearer token.",
      {{"handler", "capsule(otelcol.Handler)", "authenticator for `auth` arguments"}});
}
}  // namespace telegate::components
