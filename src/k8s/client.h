// A small Kubernetes API client: GET requests and streaming GETs (watches, pod logs) over
// HTTP/1.1, TLS through libcurl + OpenSSL, JSON only.
//
// Contract:
//   - Client(config) opens nothing; every call makes its own request on its own curl handle, so
//     a Client is thread-safe and any number of streams can run at once (one thread each).
//   - Authentication: the bearer token (from Config::bearer_token, or the token FILE, re-read when
//     older than token_reload — 1 minute by default — and immediately after a 401, after which
//     the request is retried once), or basic auth, or client certificates.
//   - TLS: Config::tls applied by net::CurlTls (src/net/curl_tls.h): CA, client certificate and
//     key (file or PEM), insecure_skip_verify, server_name (SNI and verified name), min/max
//     version. Every request opens its own connection, so the files are read afresh each time and
//     a rotated client certificate or CA is used by the next request. Settings CurlTls refuses
//     make every request FAILED_PRECONDITION with the reason.
//   - get() returns the status and body (non-2xx statuses are responses, not errors; transport
//     failures are UNAVAILABLE naming the URL). Bodies are capped at max_body (64 MiB): a longer
//     body is RESOURCE_EXHAUSTED.
//   - stream() delivers the 2xx response body to on_data chunk by chunk, as it arrives; on_data
//     returning false ends the stream (OK). The result is the final HTTP status; for non-2xx
//     statuses the body (first 4 KiB) goes to *error_body instead of on_data.
//   - Every call is cancellable: Cancel::cancel() from any thread aborts a running request
//     within milliseconds (curl_multi_wakeup) and makes later calls return CANCELLED at once.
//     timeout bounds the whole request (0 = none, for follow streams); connecting is bounded by
//     10 s. A stream that receives no byte for `idle_timeout` (if set) is aborted as UNAVAILABLE.
//   - streamPodLogs() is GET /api/v1/namespaces/{ns}/pods/{pod}/log with container, follow,
//     timestamps, sinceTime, tailLines, limitBytes as given; chunks go to on_chunk as they arrive
//     (they are NOT split at line boundaries). Returns OK when the server ended the stream,
//     CANCELLED when cancelled, NOT_FOUND/PERMISSION_DENIED/UNAUTHENTICATED/... for HTTP errors
//     (with the server's Status message), UNAVAILABLE for transport failures.
//   - requestCount() counts requests sent (including the 401 retry), for tests and metrics.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/k8s/config.h"
#include "src/net/curl_tls.h"

namespace telegate::k8s {

// Shared cancellation flag for the requests and sleeps of one owner (an informer, a tailer).
class Cancel {
 public:
  void cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // Sleeps for `d` or until cancel(); returns false when cancelled.
  bool sleepFor(std::chrono::milliseconds d);

 private:
  friend class Client;
  void attach(void* multi);
  void detach(void* multi);

  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::vector<void*> multis_;
  std::condition_variable_any cv_;
};

struct Response {
  int status = 0;
  std::string body;
};

struct PodLogOptions {
  std::string namespace_;
  std::string pod;
  std::string container;  // empty: the pod's only container
  bool follow = true;
  bool timestamps = true;
  std::string since_time;  // RFC3339, e.g. "2026-11-24T06:00:00Z"; empty: from the start
  std::optional<int64_t> tail_lines;
  std::optional<int64_t> limit_bytes;
};

// "a b&c" -> "a%20b%26c" (RFC 3986 unreserved characters are kept).
std::string urlEncode(std::string_view s);

class Client {
 public:
  struct Options {
    std::chrono::milliseconds token_reload = std::chrono::minutes(1);
    size_t max_body = size_t{64} << 20;
  };
  explicit Client(Config config) : Client(std::move(config), Options()) {}
  Client(Config config, Options options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Config& config() const { return config_; }

  // path_and_query starts with '/', e.g. "/api/v1/pods?limit=500".
  absl::StatusOr<Response> get(std::string_view path_and_query, Cancel* cancel,
                               std::chrono::milliseconds timeout = std::chrono::seconds(60));

  absl::StatusOr<int> stream(std::string_view path_and_query,
                             const std::function<bool(std::string_view)>& on_data, Cancel* cancel,
                             std::chrono::milliseconds timeout, std::string* error_body,
                             std::chrono::milliseconds idle_timeout = std::chrono::milliseconds(0));

  absl::Status streamPodLogs(const PodLogOptions& opts,
                             const std::function<bool(std::string_view)>& on_chunk, Cancel* cancel);

  uint64_t requestCount() const { return requests_.load(std::memory_order_relaxed); }

 private:
  struct Call;
  absl::StatusOr<int> perform(std::string_view path, Call& call, Cancel* cancel,
                              std::chrono::milliseconds timeout,
                              std::chrono::milliseconds idle_timeout);
  absl::StatusOr<int> performWithAuthRetry(std::string_view path, Call& call, Cancel* cancel,
                                           std::chrono::milliseconds timeout,
                                           std::chrono::milliseconds idle_timeout);
  std::string authorization(bool force_reload);

  Config config_;
  Options options_;
  absl::StatusOr<std::shared_ptr<const net::CurlTls>> tls_;
  std::atomic<uint64_t> requests_{0};
  std::mutex token_mu_;
  std::string token_;
  std::chrono::steady_clock::time_point token_read_{};
  std::string token_error_;
};

// The message of a Kubernetes Status object (`{"kind":"Status","message":...}`), or the body
// itself (trimmed to 200 bytes) when it is not one.
std::string statusMessage(std::string_view body);

}  // namespace telegate::k8s
