#include "src/components/common/http_client.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "src/common/strings.h"

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
  s.attr("server_name", &TlsConfigBlock::server_name)
      .doc("SNI and the name verified; default the URL's host");
  s.attr("insecure_skip_verify", &TlsConfigBlock::insecure_skip_verify);
  s.attr("min_version", &TlsConfigBlock::min_version).doc("\"1.0\" to \"1.3\"; \"\" = \"1.2\"");
}

net::tls::TlsClientSettings tlsSettings(const TlsConfigBlock& t) {
  net::tls::TlsClientSettings s;
  s.ca_file = t.ca_file;
  s.ca_pem = t.ca_pem;
  s.cert_file = t.cert_file;
  s.cert_pem = t.cert_pem;
  s.key_file = t.key_file;
  s.key_pem = t.key_pem.value;
  s.server_name = t.server_name;
  s.insecure_skip_verify = t.insecure_skip_verify;
  s.min_version = t.min_version;
  return s;
}

void overlayTlsConfig(const TlsConfigBlock& t, net::tls::TlsClientSettings* base) {
  if (!t.ca_file.empty() || !t.ca_pem.empty()) {
    base->ca_file = t.ca_file;
    base->ca_pem = t.ca_pem;
  }
  if (!t.cert_file.empty() || !t.cert_pem.empty()) {
    base->cert_file = t.cert_file;
    base->cert_pem = t.cert_pem;
  }
  if (!t.key_file.empty() || !t.key_pem.value.empty()) {
    base->key_file = t.key_file;
    base->key_pem = t.key_pem.value;
  }
  if (!t.server_name.empty()) base->server_name = t.server_name;
  if (!t.min_version.empty()) base->min_version = t.min_version;
  base->insecure_skip_verify = base->insecure_skip_verify || t.insecure_skip_verify;
}

bool sameTlsConfig(const TlsConfigBlock& a, const TlsConfigBlock& b) {
  return a.ca_file == b.ca_file && a.ca_pem == b.ca_pem && a.cert_file == b.cert_file &&
         a.cert_pem == b.cert_pem && a.key_file == b.key_file &&
         a.key_pem.value == b.key_pem.value && a.server_name == b.server_name &&
         a.insecure_skip_verify == b.insecure_skip_verify && a.min_version == b.min_version;
}

absl::Status TlsConfigBlock::validate() const {
  return tlsSettings(*this).validate();
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

net::HttpClientOptions clientOptions(const HttpClientConfig& cfg) {
  net::HttpClientOptions o;
  if (cfg.tls_config) o.tls = tlsSettings(*cfg.tls_config);
  o.proxy_url = cfg.proxy_url;
  o.http2 = cfg.enable_http2;
  return o;
}

namespace {
absl::StatusOr<std::string> readSecretFile(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(strCat("cannot read ", what, " ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace

absl::StatusOr<std::string> authorizationHeader(const HttpClientConfig& cfg) {
  if (cfg.basic_auth) {
    std::string pw = cfg.basic_auth->password.value;
    if (!cfg.basic_auth->password_file.empty()) {
      auto f = readSecretFile("basic_auth password_file", cfg.basic_auth->password_file);
      if (!f.ok()) return f.status();
      pw = *f;
    }
    return strCat("Basic ", absl::Base64Escape(strCat(cfg.basic_auth->username, ":", pw)));
  }
  if (!cfg.bearer_token.value.empty()) return strCat("Bearer ", cfg.bearer_token.value);
  if (!cfg.bearer_token_file.empty()) {
    auto f = readSecretFile("bearer_token_file", cfg.bearer_token_file);
    if (!f.ok()) return f.status();
    return strCat("Bearer ", *f);
  }
  if (cfg.authorization) {
    std::string cred = cfg.authorization->credentials.value;
    if (!cfg.authorization->credentials_file.empty()) {
      auto f =
          readSecretFile("authorization credentials_file", cfg.authorization->credentials_file);
      if (!f.ok()) return f.status();
      cred = *f;
    }
    return strCat(cfg.authorization->type.empty() ? "Bearer" : cfg.authorization->type, " ", cred);
  }
  return std::string();
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace telegate::components
