#include "src/components/otelcol/auth/bearer/bearer.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "src/components/all.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::bearer {

void Arguments::describe(runtime::Schema<Arguments>& s) {
  s.attr("token", &Arguments::token).required().doc("the expected token (secret)");
  s.attr("scheme", &Arguments::scheme).doc("scheme before the token; empty: the bare token");
  s.attr("header", &Arguments::header).doc("header (gRPC metadata key) carrying the credential");
}

absl::Status Arguments::validate() const {
  if (token.value.empty()) {
    return absl::InvalidArgumentError(
        "token must not be empty: with an empty token no request could be authenticated (is the "
        "environment variable that provides it set?)");
  }
  if (header.empty()) return absl::InvalidArgumentError("header must not be empty");
  return absl::OkStatus();
}

namespace {
std::array<unsigned char, 32> digest(std::string_view s) {
  std::array<unsigned char, 32> d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}
}  // namespace

BearerHandler::BearerHandler(const Arguments& args) { set(args); }

void BearerHandler::set(const Arguments& args) {
  auto st = std::make_shared<State>();
  st->header_lower = absl::AsciiStrToLower(args.header);
  std::string expected = args.scheme.empty() ? args.token.value
                                             : args.scheme + " " + args.token.value;
  st->expected_digest = digest(expected);
  OPENSSL_cleanse(expected.data(), expected.size());
  state_.store(std::move(st));
}

AuthResult BearerHandler::authenticate(const HeaderLookup& header) const {
  auto st = state_.load();
  AuthResult r;
  std::string_view presented = header(st->header_lower);
  if (presented.empty()) {
    r.reason = "missing";
    r.message = "missing or empty authorization header";
    return r;
  }
  auto d = digest(presented);
  if (CRYPTO_memcmp(d.data(), st->expected_digest.data(), d.size()) != 0) {
    r.reason = "invalid_token";
    r.message = "scheme or token does not match";
    return r;
  }
  r.ok = true;
  static const auto kAnonymous = std::make_shared<const pdata::ClientInfo>();
  r.client = kAnonymous;
  return r;
}

Component::Component(runtime::Host& host, const Arguments& args)
    : host_(host), handler_(std::make_shared<BearerHandler>(args)) {
  host_.setExports({{"handler", syntax::Value::capsule(handler_)}});
}

absl::Status Component::update(const Arguments& args) {
  handler_->set(args);
  return absl::OkStatus();
}

}  // namespace telegate::otelcol::bearer

namespace telegate::components {
void registerOtelcolAuthBearer() {
  runtime::registerComponent<otelcol::bearer::Component>(
      "otelcol.auth.bearer", "Bearer-token authentication for otelcol receivers.",
      {{"handler", "capsule(otelcol.Handler)", "authenticator for `auth` arguments"}});
}
}  // namespace telegate::components
