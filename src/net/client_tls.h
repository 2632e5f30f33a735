// Client-side TLS material shared by every client (the HTTP client on libcurl, the OTLP/gRPC
// exporter, the Kubernetes client): reading the CA, certificate and key of a
// tls::TlsClientSettings, and noticing when their files change so new connections use the new
// ones.
//
// Contract:
//  * loadClientTlsPem() returns the PEM text of the CA, certificate and key: the *_pem value when
//    set, else the file's content (read now), else "". With include_system_ca_certs_pool and a
//    configured CA, `ca` is the system bundle (SSL_CERT_FILE, else OpenSSL's default file)
//    followed by the configured CA. It checks what it read: every PEM parses, a certificate comes
//    with a key and that key belongs to the certificate. Errors name the attribute and the file,
//    e.g. `cert_file /etc/tls/tls.crt: no certificate in it`.
//  * TlsFileWatch fingerprints the content of the files a TlsClientSettings names (ca_file,
//    cert_file, key_file) and counts generations: generation() re-reads them at most once per
//    `period` (1 s by default; one atomic load otherwise) and returns a number that grows by one
//    each time the content changed since the previous check. A file replaced through a symlink
//    swap (kubelet's `..data`) is seen as changed; a missing file counts as a content of its own.
//    Clients tag each pooled connection with the generation it was made under and drop those of
//    older generations, so a rotated client certificate is presented on the next new connection.
//
// Threading: loadClientTlsPem() is reentrant. TlsFileWatch is thread-safe; a caller that finds a
// check in progress on another thread returns the current generation without waiting.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/net/tls/tls.h"

namespace telegate::net {

struct ClientTlsPem {
  std::string ca;    // "" = the system roots
  std::string cert;  // "" = no client certificate
  std::string key;
};

absl::StatusOr<ClientTlsPem> loadClientTlsPem(const tls::TlsClientSettings& settings);

// The system CA bundle file OpenSSL uses by default (SSL_CERT_FILE overrides it).
std::string systemCaBundleFile();

class TlsFileWatch {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // Watches ca_file, cert_file and key_file of `settings` (those that are set).
  explicit TlsFileWatch(const tls::TlsClientSettings& settings,
                        std::chrono::milliseconds period = std::chrono::seconds(1),
                        Clock clock = &std::chrono::steady_clock::now);
  TlsFileWatch(const TlsFileWatch&) = delete;
  TlsFileWatch& operator=(const TlsFileWatch&) = delete;

  // The current generation, re-reading the files when a check is due.
  uint64_t generation();
  // Re-reads the files now (tests; callers that must not wait for the period).
  uint64_t checkNow();
  bool watching() const { return !files_.empty(); }

 private:
  size_t fingerprint() const;

  const std::vector<std::string> files_;
  const std::chrono::milliseconds period_;
  const Clock clock_;
  std::atomic<int64_t> next_check_ns_{0};
  std::atomic<uint64_t> generation_{0};
  std::mutex mu_;
  size_t last_ = 0;  // guarded by mu_
};

}  // namespace telegate::net
