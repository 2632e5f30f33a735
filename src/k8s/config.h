// How to reach a Kubernetes API server: address, TLS material and credentials.
//
// Contract: a Config is plain data. It comes from one of three sources:
//   - inClusterConfig(): the pod's service account, as client-go's rest.InClusterConfig does.
//     Needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (else FAILED_PRECONDITION with
//     client-go's message); server = https://host:port (IPv6 bracketed); the token FILE (re-read
//     by the Client, so projected-token rotation works), ca.crt and, when present, the namespace
//     file are taken from the service-account directory: the `sa_dir` argument, else env
//     TELEGATE_K8S_SA_DIR, else /var/run/secrets/kubernetes.io/serviceaccount.
//   - loadKubeconfig()/parseKubeconfig(): a kubeconfig YAML file; the current-context (or the
//     named context) selects the cluster (server, certificate-authority[-data],
//     insecure-skip-tls-verify, tls-server-name) into `tls`, and the user (token, tokenFile,
//     client-certificate[-data], client-key[-data], username/password) and the namespace.
//     Relative file paths are resolved against the kubeconfig's directory. exec/auth-provider
//     plugins are rejected with UNIMPLEMENTED. Errors name the file and the missing entry.
//   - explicit fields filled by the caller (discovery.kubernetes' api_server + HTTP client block).
// Nothing here opens connections. Thread-compatible.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/net/tls/tls.h"

namespace telegate::k8s {

struct Config {
  std::string server;  // "https://10.0.0.1:443"; no trailing '/'
  // TLS: the shared client settings (src/net/tls/tls.h). *_pem hold the PEM text itself
  // (kubeconfig *-data, Alloy's tls_config ca_pem...); server_name is kubeconfig's
  // tls-server-name or tls_config's server_name (SNI and the name verified).
  net::tls::TlsClientSettings tls;
  // Credentials: at most one of token / token_file / username+password.
  std::string bearer_token;
  std::string bearer_token_file;  // re-read at least every minute and after a 401
  std::string username, password;
  std::string namespace_;               // service-account or context namespace ("" when unknown)
  std::string proxy_url;                // empty: no proxy, unless proxy_from_environment
  bool proxy_from_environment = false;  // HTTPS_PROXY/NO_PROXY... as curl reads them
  std::string user_agent;               // default "telegate/<version>"
};

inline constexpr std::string_view kDefaultServiceAccountDir =
    "/var/run/secrets/kubernetes.io/serviceaccount";

absl::StatusOr<Config> inClusterConfig(std::string sa_dir = "");
absl::StatusOr<Config> loadKubeconfig(const std::string& path, const std::string& context = "");
absl::StatusOr<Config> parseKubeconfig(std::string_view yaml, std::string_view base_dir,
                                       const std::string& context = "");

// Reads a small text file (tokens, namespace), trimming trailing whitespace.
absl::StatusOr<std::string> readTextFile(const std::string& path);

}  // namespace telegate::k8s
