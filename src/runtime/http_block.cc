#include "src/runtime/http_block.h"

#include "src/syntax/stdlib.h"

namespace telegate::runtime {

void HttpBasicAuthBlock::describe(Schema<HttpBasicAuthBlock>& s) {
  s.attr("username", &HttpBasicAuthBlock::username).required().doc("user name to require");
  s.attr("password", &HttpBasicAuthBlock::password).required().doc("password to require");
}

void HttpAuthFilterBlock::describe(Schema<HttpAuthFilterBlock>& s) {
  s.attr("paths", &HttpAuthFilterBlock::paths).doc("path prefixes the filter lists");
  s.attr("authenticate_matching_paths", &HttpAuthFilterBlock::authenticate_matching_paths)
      .doc("true: the listed paths need the credential; false: every other path does");
}

void HttpAuthBlock::describe(Schema<HttpAuthBlock>& s) {
  s.block("basic", &HttpAuthBlock::basic).doc("HTTP basic authentication");
  s.block("filter", &HttpAuthBlock::filter).doc("which paths need the credential");
}

void HttpTlsBlock::describe(Schema<HttpTlsBlock>& s) {
  s.attr("cert_file", &HttpTlsBlock::cert_file);
  s.attr("cert_pem", &HttpTlsBlock::cert_pem);
  s.attr("key_file", &HttpTlsBlock::key_file);
  s.attr("key_pem", &HttpTlsBlock::key_pem);
  s.attr("cipher_suites", &HttpTlsBlock::cipher_suites);
  s.attr("client_auth_type", &HttpTlsBlock::client_auth_type);
  s.attr("client_ca_file", &HttpTlsBlock::client_ca_file);
  s.attr("client_ca_pem", &HttpTlsBlock::client_ca_pem);
  s.attr("curve_preferences", &HttpTlsBlock::curve_preferences);
  s.attr("max_version", &HttpTlsBlock::max_version);
  s.attr("min_version", &HttpTlsBlock::min_version);
}

void HttpBlockArgs::describe(Schema<HttpBlockArgs>& s) {
  s.block("auth", &HttpBlockArgs::auth).doc("access control of the admin server");
  s.block("tls", &HttpBlockArgs::tls).doc("not supported by telegate");
}

absl::Status HttpBlockArgs::validate() const {
  if (tls) {
    return absl::InvalidArgumentError(
        "http.tls is not supported: telegate's admin server serves plain HTTP; terminate TLS in "
        "front of it (or reach it through `kubectl port-forward`) and remove the tls block");
  }
  if (auth && auth->basic) {
    if (auth->basic->username.empty() || auth->basic->password.value.empty()) {
      return absl::InvalidArgumentError(
          "http.auth.basic: username and password must not be empty (is the environment "
          "variable that provides them set?)");
    }
    if (auth->basic->username.find(':') != std::string::npos) {
      return absl::InvalidArgumentError("http.auth.basic: username must not contain ':'");
    }
  }
  return absl::OkStatus();
}

bool decodeHttpBlock(const syntax::ast::Block& block, const std::string& file,
                     syntax::Diagnostics* diags, HttpBlockArgs* out) {
  syntax::Object root = syntax::stdlib();
  syntax::Scope scope(&root);
  std::vector<syntax::EvalWarning> warnings;
  DecodeContext ctx{&scope, file, diags, &warnings};
  bool ok = decodeBody(block.body, schemaOf<HttpBlockArgs>(), out, block.name_range, ctx);
  if (ok) {
    if (auto st = out->validate(); !st.ok()) {
      diags->addError(file, block.name_range, std::string(st.message()));
      ok = false;
    } else if (out->auth && out->auth->basic && out->auth->filter &&
               out->auth->filter->authenticate_matching_paths && out->auth->filter->paths.empty()) {
      diags->addWarning(file, block.name_range,
                        "http.auth.filter lists no paths with authenticate_matching_paths = true: "
                        "no path needs the credential");
    }
  }
  for (auto& w : warnings) diags->addWarning(file, w.range, w.message);
  return ok;
}

}  // namespace telegate::runtime
