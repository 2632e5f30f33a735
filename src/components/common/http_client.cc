#include "src/components/common/http_client.h"

namespace telegate::components {

void BasicAuthBlock::describe(Schema<BasicAuthBlock>& s) {
  s.attr("username", &BasicAuthBlock::username);
  s.attr("password", &BasicAuthBlock::password);
  s.attr("password_file", &BasicAuthBlock::password_file);
}

void AuthorizationBlock::describe(Schema<AuthorizationBlock>& s) {
  s.attr("type", &AuthorizationBlock::type);
  s.attr("credentials", &AuthorizationBlock::credentials);
  s.attr("credentials_file", &AuthorizationBlock::credentials_file);
}

void TlsConfigBlock::describe(Schema<TlsConfigBlock>& s) {
  s.attr("ca_pem", &TlsConfigBlock::ca_pem);
  s.attr("ca_file", &TlsConfigBlock::ca_file);
  s.attr("cert_pem", &TlsConfigBlock::cert_pem);
  s.attr("cert_file", &TlsConfigBlock::cert_file);
  s.attr("key_pem", &TlsConfigBlock::key_pem);
  s.attr("key_file", &TlsConfigBlock::key_file);
  s.attr("server_name", &TlsConfigBlock::server_name);
  s.attr("insecure_skip_verify", &TlsConfigBlock::insecure_skip_verify);
  s.attr("min_version", &TlsConfigBlock::min_version);
}

absl::Status HttpClientConfig::validate() const {
  int n = 0;
  n += bearer_token.value.empty() ? 0 : 1;
  n += bearer_token_file.empty() ? 0 : 1;
  n += basic_auth ? 1 : 0;
  n += authorization ? 1 : 0;
  if (n > 1) {
    return absl::InvalidArgumentError(
        "at most one of basic_auth, authorization, bearer_token and bearer_token_file may be "
        "configured");
  }
  if (basic_auth && !basic_auth->password.value.empty() && !basic_auth->password_file.empty()) {
    return absl::InvalidArgumentError(
        "at most one of basic_auth password and password_file may be configured");
  }
  return absl::OkStatus();
}

}  // namespace telegate::components
