// The HTTP client blocks shared by loki.*, prometheus.* and discovery.* components
// (Alloy's http_client_config), with Alloy's defaults.
//
// Contract: plain Arguments structs (see src/runtime/schema.h); validate() rejects conflicting
// credentials (only one of bearer_token, bearer_token_file, basic_auth, authorization).
// tls_config carries Alloy's attributes (ca_pem, ca_file, cert_pem, cert_file, key_pem, key_file,
// server_name, insecure_skip_verify, min_version) and maps onto net::tls::TlsClientSettings with
// tlsSettings(); its validate() is that of the settings (one source per item, a key with every
// certificate, known versions), so a bad block is a diagnostic at the block. Every attribute is
// applied by each client (net::HttpClient, the Kubernetes client), including server_name (SNI
// and verified name) and rotation of the files (see src/net/client_tls.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/net/http_client.h"
#include "src/net/tls/tls.h"
#include "src/runtime/schema.h"

namespace telegate::components {

using runtime::Schema;
using runtime::Secret;

struct BasicAuthBlock {
  std::string username;
  Secret password;
  std::string password_file;
  static void describe(Schema<BasicAuthBlock>& s);
};

struct AuthorizationBlock {
  std::string type = "Bearer";
  Secret credentials;
  std::string credentials_file;
  static void describe(Schema<AuthorizationBlock>& s);
};

struct TlsConfigBlock {
  std::string ca_pem, ca_file, cert_pem, cert_file, key_file;
  Secret key_pem;
  std::string server_name;
  bool insecure_skip_verify = false;
  std::string min_version;
  static void describe(Schema<TlsConfigBlock>& s);
  absl::Status validate() const;
};

// The shared TLS settings of a tls_config block.
net::tls::TlsClientSettings tlsSettings(const TlsConfigBlock& t);
// Overlays the attributes set in `t` on `base` (settings from a kubeconfig or the service
// account): a CA, certificate or key given in the block replaces the base's (file and PEM
// together), server_name and min_version replace it when set, insecure_skip_verify adds to it.
void overlayTlsConfig(const TlsConfigBlock& t, net::tls::TlsClientSettings* base);
// True when the two blocks say the same thing (every attribute equal).
bool sameTlsConfig(const TlsConfigBlock& a, const TlsConfigBlock& b);

// The attributes and blocks of an HTTP client, declared on any Arguments type T that has the
// same member names (so loki.write's endpoint and discovery.kubernetes share one definition).
struct HttpClientConfig {
  Secret bearer_token;
  std::string bearer_token_file;
  std::optional<BasicAuthBlock> basic_auth;
  std::optional<AuthorizationBlock> authorization;
  std::optional<TlsConfigBlock> tls_config;
  std::string proxy_url;
  std::string no_proxy;
  bool proxy_from_environment = false;
  bool follow_redirects = true;
  bool enable_http2 = true;
  absl::Status validate() const;
};

template <class T>
void describeHttpClient(Schema<T>& s) {
  // Explicit template arguments let members inherited from HttpClientConfig bind to Schema<T>.
  s.template attr<Secret>("bearer_token", &T::bearer_token);
  s.template attr<std::string>("bearer_token_file", &T::bearer_token_file);
  s.template block<BasicAuthBlock>("basic_auth", &T::basic_auth);
  s.template block<AuthorizationBlock>("authorization", &T::authorization);
  s.template block<TlsConfigBlock>("tls_config", &T::tls_config);
  s.template attr<std::string>("proxy_url", &T::proxy_url);
  s.template attr<std::string>("no_proxy", &T::no_proxy);
  s.template attr<bool>("proxy_from_environment", &T::proxy_from_environment);
  s.template attr<bool>("follow_redirects", &T::follow_redirects);
  s.template attr<bool>("enable_http2", &T::enable_http2);
}

// net::HttpClient options from the TLS and proxy settings of `cfg`.
net::HttpClientOptions clientOptions(const HttpClientConfig& cfg);

// The Authorization header value for the credentials of `cfg` (basic_auth, bearer_token,
// bearer_token_file, authorization), "" when none is configured. Credential files are read now;
// a file that cannot be read is an error naming it.
absl::StatusOr<std::string> authorizationHeader(const HttpClientConfig& cfg);

// ASCII case-insensitive comparison (HTTP header names).
bool equalsIgnoreCase(std::string_view a, std::string_view b);

struct HttpClientBlock : HttpClientConfig {
  static void describe(Schema<HttpClientBlock>& s) { describeHttpClient(s); }
};

}  // namespace telegate::components
