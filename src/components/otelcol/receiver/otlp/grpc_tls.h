// TLS of the OTLP/gRPC server: gRPC 1.51's TlsServerCredentials fed from a
// net::tls::TlsServerContext, so that the gRPC server rotates certificates exactly like the HTTP
// server (same validation, same metrics) and a client's verified certificate reaches
// authentication as a net::tls::PeerIdentity.
//
// Contract:
//  * checkGrpcTlsSettings() tells whether gRPC can serve `settings`: gRPC 1.51 negotiates TLS 1.2
//    or 1.3 with its own cipher suites and curves and offers no setting for them, so min_version
//    must be unset or "1.2", max_version unset or "1.3", and cipher_suites and curve_preferences
//    must be empty. The error names the attribute and says why (the config block's validate()
//    turns it into a diagnostic positioned at the `tls` block).
//  * GrpcServerTls::create() builds the TlsServerContext (errors name the file and the reason:
//    nothing is served), makes a private staging directory (mode 0700,
//    "telegate-grpc-tls-XXXXXX" under $TMPDIR, else /dev/shm, else /tmp) and publishes there the
//    context's certificate chain and private key as one PEM file (mode 0600) and, when
//    client_ca_file/client_ca_pem is set, the client CAs (plus the system CAs with
//    include_system_ca_certs_pool). credentials() are TlsServerCredentials over a
//    FileWatcherCertificateProvider of those files with a 1 s refresh; client certificates are
//    required and verified (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY) when a
//    client CA is set, not requested otherwise.
//  * Rotation: TlsServerContext checks the configured files every second (and every
//    reload_interval) and publishes a new context only when the new pair loads and the key
//    matches the certificate; a publisher thread here looks at TlsServerContext::current() every
//    200 ms and rewrites the staging files from a new context. Every file is replaced by one
//    rename, and certificate and key share one file, so gRPC never reads the key of one pair with
//    the certificate of another; each generation gets a later modification time (gRPC's check for
//    a file changing while it is read). New handshakes use the new pair within about 2-3 s of the
//    file change; established connections keep theirs (rotation never cuts a connection). A broken
//    new pair never reaches the staging directory, so the old one keeps serving (TlsServerContext
//    logs and counts the refusal). publishIfChanged() is the publisher's step, for tests.
//  * peerIdentity(auth_context) builds the PeerIdentity of a call from gRPC's auth context (the
//    leaf certificate in x509_pem_cert, parsed with OpenSSL: subject, CN, DNS/URI/e-mail SANs,
//    SHA-256 fingerprint) when the transport is TLS and the peer presented a certificate; null
//    otherwise. It marks the identity verified, so it must only be called for a server that
//    verifies client certificates (verifiesClients()). Parsed identities are cached per thread
//    (bounded), so a connection's calls do not parse its certificate again.
//
// Threading: create() and the destructor run on the controlling thread; credentials(),
// verifiesClients() and peerIdentity() are thread-safe. The destructor stops the publisher and
// removes the staging directory: destroy the gRPC server first.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/log.h"
#include "src/common/metrics.h"
#include "src/net/tls/tls.h"

namespace grpc {
class AuthContext;
class ServerCredentials;
}  // namespace grpc

namespace telegate::otelcol::receiver_otlp {

absl::Status checkGrpcTlsSettings(const net::tls::TlsServerSettings& settings);

std::shared_ptr<const net::tls::PeerIdentity> peerIdentity(const grpc::AuthContext& auth);

class GrpcServerTls {
 public:
  // `server` labels the TLS metrics and log lines (e.g. "otelcol.receiver.otlp.default/grpc").
  static absl::StatusOr<std::unique_ptr<GrpcServerTls>> create(
      net::tls::TlsServerSettings settings, std::string server, log::Logger logger,
      metrics::Registry* metrics = &metrics::defaultRegistry());
  ~GrpcServerTls();
  GrpcServerTls(const GrpcServerTls&) = delete;
  GrpcServerTls& operator=(const GrpcServerTls&) = delete;

  std::shared_ptr<grpc::ServerCredentials> credentials() const { return credentials_; }
  bool verifiesClients() const { return verify_clients_; }
  // The staging directory (tests look at it).
  const std::string& stagingDir() const { return dir_; }
  // The context whose pair is published (tests call reloadIfChanged() on it).
  net::tls::TlsServerContext& context() const { return *context_; }
  // Publishes the context's current pair if it is not the one published. True when it wrote.
  bool publishIfChanged();

 private:
  GrpcServerTls() = default;
  absl::Status publish(const std::shared_ptr<SSL_CTX>& ctx);
  void run();

  net::tls::TlsServerSettings settings_;
  std::string server_;
  log::Logger logger_;
  std::shared_ptr<net::tls::TlsServerContext> context_;
  std::string dir_;
  std::string identity_path_, ca_path_;
  bool verify_clients_ = false;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::mutex mu_;                       // publishing (publisher thread and publishIfChanged())
  std::shared_ptr<SSL_CTX> published_;  // guarded by mu_
  std::shared_ptr<SSL_CTX> failed_;     // guarded by mu_: the last context publish() failed on
  int64_t last_mtime_ = 0;              // guarded by mu_
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread publisher_;
};

}  // namespace telegate::otelcol::receiver_otlp
