// TLS for telegate's listeners and clients: settings, certificate loading and rotation, and the
// identity of a verified peer. OpenSSL 3 underneath; shared by the HTTP server (OTLP/HTTP receiver
// and admin server), the gRPC receiver and the exporters' clients.
//
// Contract:
//  * TlsServerSettings is what a `tls` block of a server says, already decoded (Alloy's otelcol
//    server block and the top-level `http { tls { ... } }` block map onto it). validate() checks
//    it without touching files: exactly one source for the certificate (file or PEM) and for the
//    key, known versions ("1.0".."1.3", min <= max), known cipher suite names (Go's IANA names, as
//    Alloy accepts them), known curve names, a known client_auth value, and a client CA when the
//    client authentication mode verifies certificates. Errors name the attribute, e.g.
//    `min_version: unknown TLS version "1.4" (use "1.0", "1.1", "1.2" or "1.3")`.
//  * TlsServerContext::create() loads the certificate, key and client CA, checks that the key
//    matches the certificate, and builds the OpenSSL context: protocol range (default minimum
//    TLS 1.2, as Alloy's), TLS 1.2 cipher list when cipher_suites is set (TLS 1.3 suites are not
//    configurable, as in Go), curves, client certificate policy, session resumption (stateless
//    tickets and a server-side cache) and ALPN (`alpn` in preference order, e.g. {"http/1.1"}).
//    An error names the file and the reason; nothing is served. Files are read whole (at most
//    1 MiB each). TLS 1.0/1.1 (min_version below "1.2") lower OpenSSL's security level to 0 for
//    the context, as OpenSSL 3 refuses them otherwise. Renegotiation and compression are off.
//  * Rotation: while a TlsServerContext is alive, a watcher thread stats every file it was built
//    from once a second and rebuilds the context when one changed (mtime, size, inode, or the
//    target of a symlink: kubelet's atomic `..data` swap), and in any case every reload_interval
//    when that is > 0. A rebuilt context is published only if it loads and its key matches its
//    certificate; otherwise the previous one keeps serving, the reason is logged once per change
//    and telegate_tls_certificate_reloads_total{server,result="error"} counts it. Files whose
//    contents did not change publish nothing (and count nothing). current()
//    returns the context new handshakes must use; connections keep the context they started with,
//    so rotation never cuts a connection. Context creation never blocks a handshake.
//  * Metrics: telegate_tls_certificate_reloads_total{server,result="ok"|"error"} and
//    telegate_tls_certificate_expiry_timestamp_seconds{server} (notAfter of the serving
//    certificate).
//  * PeerIdentity describes the client certificate of a finished handshake, only when OpenSSL
//    verified it against the client CA (verified = true); an unverified or absent certificate
//    gives an empty identity. peerIdentity(SSL*) extracts it (subject CN, DNS/URI/e-mail SANs).
//  * TlsClientSettings is what a client `tls` block says (exporters, the Kubernetes client);
//    validate() checks it like the server's.
//
// Threading: TlsServerContext is thread-safe; current() takes no mutex (a
// std::atomic<std::shared_ptr> load) and may be called per accepted connection; reloadIfChanged()
// calls are serialised with each other and with the watcher's. stop() (or the destructor) joins the
// watcher.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/metrics.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace telegate::net::tls {

// Go's tls.ClientAuthType, by Alloy's names.
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,
  kRequireAnyClientCert,
  kVerifyClientCertIfGiven,
  kRequireAndVerifyClientCert,
};
absl::StatusOr<ClientAuth> parseClientAuth(std::string_view name);

struct TlsServerSettings {
  std::string cert_file, cert_pem;
  std::string key_file, key_pem;
  std::string client_ca_file, client_ca_pem;
  // kNoClientCert unless set; the otelcol block sets kRequireAndVerifyClientCert when it has a
  // client_ca_file (Alloy's behaviour).
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  bool include_system_ca_certs_pool = false;   // trust the system CAs for client certificates too
  std::string min_version;                     // "" = "1.2"
  std::string max_version;                     // "" = "1.3"
  std::vector<std::string> cipher_suites;      // Go/IANA names; empty = OpenSSL's defaults
  std::vector<std::string> curve_preferences;  // Go names (X25519, CurveP256, ...); empty = default
  std::chrono::milliseconds reload_interval{0};
  std::vector<std::string> alpn;  // protocols offered, in preference order

  absl::Status validate() const;
  bool enabled() const { return !cert_file.empty() || !cert_pem.empty(); }
};

struct TlsClientSettings {
  bool insecure = false;              // plaintext (gRPC exporters); no TLS at all
  bool insecure_skip_verify = false;  // TLS without verifying the server
  std::string server_name;            // SNI and the name verified; "" = the endpoint's host
  std::string ca_file, ca_pem;
  std::string cert_file, cert_pem;
  std::string key_file, key_pem;
  std::string min_version, max_version;
  std::vector<std::string> cipher_suites;
  bool include_system_ca_certs_pool = false;
  std::chrono::milliseconds reload_interval{0};

  absl::Status validate() const;
};

// Shared name tables (src/net/tls/names.cc). "1.0".."1.3" -> TLS1_VERSION..TLS1_3_VERSION.
absl::StatusOr<int> parseTlsVersion(std::string_view version);
// Go/IANA TLS 1.2 cipher suite names (e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") -> an OpenSSL
// cipher list ("ECDHE-RSA-AES128-GCM-SHA256:..."). TLS 1.3 suite names are accepted and left to
// OpenSSL's TLS 1.3 defaults, as Go does. Unknown names are an error naming them.
absl::StatusOr<std::string> openSslCipherList(const std::vector<std::string>& suites);
// Go curve names ("X25519", "CurveP256", "CurveP384", "CurveP521") -> an OpenSSL groups list.
absl::StatusOr<std::string> openSslGroupsList(const std::vector<std::string>& curves);

// The verified client certificate of a connection.
struct PeerIdentity {
  bool verified = false;
  std::string subject;  // RFC 2253 form, e.g. "CN=team-a,O=Example"
  std::string common_name;
  std::vector<std::string> dns_names, uris, emails;
  std::string sha256_fingerprint;  // lower-case hex of the DER certificate
};
// The identity of `ssl`'s peer after a successful handshake; an empty (unverified) identity when
// the peer sent no certificate or it was not verified.
std::shared_ptr<const PeerIdentity> peerIdentity(SSL* ssl);

class TlsServerContext {
 public:
  // `server` labels metrics and log lines (e.g. "otelcol.receiver.otlp.default/http").
  static absl::StatusOr<std::shared_ptr<TlsServerContext>> create(
      TlsServerSettings settings, std::string server,
      metrics::Registry* metrics = &metrics::defaultRegistry());
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // The context new handshakes use; never null. Holding the pointer keeps that context alive.
  std::shared_ptr<SSL_CTX> current() const;
  const TlsServerSettings& settings() const;
  // Stops the watcher; current() keeps returning the last context.
  void stop();
  // Checks the files now (the watcher's step; tests call it instead of waiting). True when a new
  // context was published.
  bool reloadIfChanged();

  class Impl;

 private:
  explicit TlsServerContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace telegate::net::tls
