// HTTP client for exporters (Loki push, OTLP/HTTP, Prometheus remote write), on libcurl.
//
// Contract: send() performs one request synchronously and returns the response, or UNAVAILABLE
// for transport failures (connection refused, timeout, TLS error) with curl's message. HTTP error
// statuses are responses, not errors: the caller decides what is retryable. The response body is
// kept up to `max_response_body` bytes (the rest is discarded), unless the request has an on_body
// callback: then each piece of the body is passed to it as it arrives, on the thread calling
// send(), with the status and headers already filled in, and nothing is kept; a false return
// aborts the transfer at once and send() returns ABORTED. An HttpClient is thread-safe: each
// call borrows a pooled curl handle, so connections are reused across calls and threads.
// TLS: `tls` as src/net/curl_tls.h applies it (system CAs by default; CA, client certificate and
// key as file or PEM, insecure_skip_verify, server_name, versions, cipher suites). Settings that
// CurlTls::create() refuses make every send() fail with that reason (components validate their
// blocks first, so this does not happen with a loaded configuration).
// Rotation: the CA, certificate and key files are checked at most once a second (TlsFileWatch);
// when their content changed, pooled handles made before are closed instead of reused, with
// their connections and TLS sessions, so the next request opens a new connection with the new
// files. Requests in flight finish on the connection they have.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "src/net/client_tls.h"
#include "src/net/curl_tls.h"
#include "src/net/tls/tls.h"

namespace telegate::net {

struct HttpClientOptions {
  tls::TlsClientSettings tls;  // `insecure` does not apply: the URL's scheme decides
  // How often the TLS files are checked for changes (tests set 0: before every request).
  std::chrono::milliseconds tls_files_check_period{1000};
  std::string proxy_url;   // empty: no proxy (the environment is ignored)
  bool http2 = false;      // HTTP/1.1 by default
  std::string user_agent;  // default "telegate/<version>"
  size_t max_response_body = 64 << 10;
};

struct HttpClientResponse;

struct HttpClientRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};
  // Optional streaming consumer of the response body (see the contract above).
  std::function<bool(const HttpClientResponse& head, std::string_view piece)> on_body;
};

struct HttpClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string_view header(std::string_view lower_name) const;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions opts = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  absl::StatusOr<HttpClientResponse> send(const HttpClientRequest& req);

 private:
  struct Pooled {
    void* handle;
    uint64_t generation;  // of the TLS files when the handle was created
  };
  Pooled acquire();
  void release(Pooled p);

  HttpClientOptions opts_;
  absl::StatusOr<std::shared_ptr<const CurlTls>> tls_;
  TlsFileWatch files_;
  std::mutex mu_;
  std::vector<Pooled> idle_;
};

// Parses a Retry-After header value: delay-seconds or an HTTP-date. nullopt when absent/invalid.
std::optional<std::chrono::seconds> parseRetryAfter(
    std::string_view value,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace telegate::net
