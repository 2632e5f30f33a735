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
// TLS: system CAs by default; ca_file/cert_file/key_file/insecure_skip_verify as configured.
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

namespace telegate::net {

struct HttpClientOptions {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
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
  void* acquire();
  void release(void* handle);

  HttpClientOptions opts_;
  std::mutex mu_;
  std::vector<void*> idle_;
};

// Parses a Retry-After header value: delay-seconds or an HTTP-date. nullopt when absent/invalid.
std::optional<std::chrono::seconds> parseRetryAfter(
    std::string_view value,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace telegate::net
