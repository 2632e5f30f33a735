// Client TLS settings applied to a libcurl (OpenSSL) easy handle; shared by net::HttpClient
// (otelcol.exporter.otlphttp, loki.write, prometheus.remote_write, prometheus.scrape) and the
// Kubernetes client.
//
// Contract:
//  * CurlTls::create() checks the settings (versions and cipher names through the shared tables
//    of src/net/tls/tls.h) once, ignoring `insecure` (an http:// URL is plaintext, https:// TLS);
//    apply() then sets a handle up for one request to `url`:
//      - verification: on (peer and host) unless insecure_skip_verify;
//      - CA: ca_pem (CURLOPT_CAINFO_BLOB) or ca_file (CURLOPT_CAINFO, read by curl for each new
//        connection) replaces the system roots, and the CA directory is switched off; with
//        include_system_ca_certs_pool the system roots stay and the configured CA is added to
//        the store of each new connection (read then, so a rotated CA file is picked up);
//      - client certificate and key: *_pem as blobs, *_file as paths (curl reads the files for
//        each new connection);
//      - versions: CURLOPT_SSLVERSION from min_version (default "1.2", as Alloy) and max_version;
//        cipher_suites as an OpenSSL cipher list (TLS 1.2; TLS 1.3 suites stay OpenSSL's); a
//        min_version below "1.2" also lowers OpenSSL's security level to 0 (OpenSSL 3 refuses
//        TLS 1.0/1.1 otherwise);
//      - server_name, for https URLs whose host differs from it: curl has no SNI override, so the
//        URL given to curl carries server_name as its host (curl then sends it as SNI and
//        verifies the certificate against it, as Go's ServerName does), CURLOPT_CONNECT_TO sends
//        the connection to the URL's real host and port, and the returned `Host:` header keeps
//        the HTTP authority of the original URL. Connection reuse is unaffected: every request of
//        a client maps the same way.
//    apply() sets CURLOPT_URL itself; the caller appends CurlTlsRequest::host_header (when not
//    empty) to its request headers and keeps the CurlTlsRequest alive until the transfer ended.
//  * Rotation is the caller's: files are re-read per new connection, so a client must not keep a
//    connection (or TLS session) made with old files — see TlsFileWatch in client_tls.h.
//
// Threading: a CurlTls is immutable after create(); apply() may run concurrently on distinct
// handles.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/net/tls/tls.h"

struct curl_slist;

namespace telegate::net {

// Per-request state that must outlive the transfer.
struct CurlTlsRequest {
  CurlTlsRequest() = default;
  ~CurlTlsRequest();
  CurlTlsRequest(const CurlTlsRequest&) = delete;
  CurlTlsRequest& operator=(const CurlTlsRequest&) = delete;

  std::string url;          // what curl was given
  std::string host_header;  // "Host: <authority>" when the URL was rewritten for server_name
  curl_slist* connect_to = nullptr;
};

class CurlTls {
 public:
  static absl::StatusOr<std::shared_ptr<const CurlTls>> create(tls::TlsClientSettings settings);

  absl::Status apply(void* curl, std::string_view url, CurlTlsRequest* out) const;
  const tls::TlsClientSettings& settings() const { return settings_; }

  // The URL curl is given for `url` and the CONNECT_TO entry ("" when not rewritten), for tests.
  static absl::Status rewriteForServerName(std::string_view url, const std::string& server_name,
                                           std::string* new_url, std::string* connect_to,
                                           std::string* authority);

 private:
  explicit CurlTls(tls::TlsClientSettings s) : settings_(std::move(s)) {}
  tls::TlsClientSettings settings_;
  long ssl_version_ = 0;  // CURLOPT_SSLVERSION value
  std::string cipher_list_;
};

}  // namespace telegate::net
