// The OTLP/HTTP server of otelcol.receiver.otlp (the `http` block).
//
// Contract: handleOtlpHttp() is the whole request pipeline, without I/O; HttpReceiver runs it on
// a net::HttpServer. Steps, outermost first (the first failing step answers):
//  a. CORS, only when cors.allowed_origins is non-empty. Origins match case-insensitively against
//     the patterns, where '*' matches any run of characters ("*" allows every origin,
//     "https://*.example.com" any subdomain). A preflight (OPTIONS with Origin and
//     Access-Control-Request-Method) is answered 204 here, before auth; when the origin is allowed
//     and the requested method is POST it carries Access-Control-Allow-Origin (the origin echoed),
//     -Allow-Credentials: true, -Allow-Methods: POST, -Allow-Headers (the defaults Accept,
//     Content-Type, Content-Encoding, Authorization, Origin, X-Requested-With plus allowed_headers;
//     the requested headers echoed when allowed_headers holds "*") and -Max-Age when max_age > 0.
//     Any other response to an allowed origin gets Access-Control-Allow-Origin and -Credentials;
//     every response gets `Vary: Origin` while CORS is active.
//  b. Auth, when a handler is given, with AuthHandler::authenticate(AuthRequest): the headers
//     and the connection's client certificate (HttpRequest::peer; null on plaintext or without a
//     certificate). Failure -> 401 with google.rpc.Status{16, message} and
//     `WWW-Authenticate: Bearer`. The credential is never echoed (the handler's message is used).
//     Runs before path matching: an unauthenticated request to an unknown path gets 401.
//  c. Path: req.path must equal one of traces_path/metrics_path/logs_path, or `<prefix><path>`
//     for a prefix of path_prefixes (a trailing '/' of the prefix is dropped: "/observability"
//     and "/observability/" both serve "/observability/v1/logs"). No other normalisation (no
//     trailing-slash variants, the query is ignored). A path of a signal for which
//     Dispatcher::hasSignal() is false is unknown, like in Alloy where it is not registered.
//     Unknown -> 404 text "404 page not found\n".
//  d. Method must be POST -> else 405 text "405 method not allowed, supported: [POST]\n" with
//     `Allow: POST`.
//  e. Content-Type media type (parameters ignored, case-insensitive) must be application/x-protobuf
//     or application/json -> else 415 text "415 unsupported media type, supported:
//     [application/json, application/x-protobuf]\n".
//  f. Content-Encoding (first value, exact and case-sensitive) must be listed in
//     compression_algorithms ("" = none) -> else 400 Status{3, "unsupported Content-Encoding: x"}.
//     The body is decompressed with the output capped at max_request_body_size: over the cap ->
//     413 Status{8, "decompressed body exceeds the limit of N bytes"}; corrupt -> 400 Status{3};
//     a codec failing to allocate its state -> 500.
//     (The raw body is capped by the server at the same size: 413 text from net::HttpServer.)
//  g. protobuf bodies go to the dispatcher as wire bytes unchanged (it validates them); JSON bodies
//     are converted with pdata::otlpJsonToWire -> failure 400 Status{3, decoder message}.
//  h. Dispatcher::dispatch(signal, wire, client, kHttpProtobuf|kHttpJson), where client is the
//     authenticated ClientInfo (null without auth). OK -> 200 with an empty
//     Export*ServiceResponse as Alloy encodes it (protobuf: bytes 0a 00; JSON:
//     {"partialSuccess":{}}). Errors map like Alloy/OTel: INVALID_ARGUMENT 400,
//     RESOURCE_EXHAUSTED 429, UNAVAILABLE/CANCELLED/DEADLINE_EXCEEDED/ABORTED/OUT_OF_RANGE/
//     DATA_LOSS 503, UNIMPLEMENTED 404, UNAUTHENTICATED 401, PERMISSION_DENIED 403, others 500,
//     with a Status{code, message} body. 429 and 503 always carry
//     `Retry-After: <dispatcher.retryAfterSeconds()>` (Alloy only with RetryInfo).
//  Status bodies (steps b, f, g, h) are encoded per the request's Content-Type: protobuf for
//  application/x-protobuf, otherwise JSON {"code":N,"message":"..."} (Alloy answers 500 for a
//  Content-Type other than the two OTLP types; telegate answers the real error in JSON). The
//  response Content-Type names the encoding used. Text bodies are text/plain with
//  X-Content-Type-Options: nosniff, like Go's http.Error.
//  Header stage: HttpReceiver runs steps a-f (without decoding) as the net::HttpServer
//  header_check (checkOtlpHttpHeaders), so a refused request is answered before `100 Continue` and
//  before any body byte is read, and the connection is closed without reading the body. A CORS
//  preflight is answered there too. An accepted request carries the authenticated client to the
//  body stage (handleOtlpHttpBody), which decodes and dispatches without authenticating again.
//  Memory: the raw body is charged by the server (a declared body that does not fit the budget
//  -> 429 from the server, see net/http_server.h); the decompressed body is charged as it grows
//  (decompress() with opts.memory_budget) and a JSON body is charged the decoder bound
//  pdata::otlpJsonWorkingMemory() while otlpJsonToWire runs. Either charge failing -> 429 Status{8,
//  "memory limit reached ..."} with Retry-After, counted with reason "memory_limit". Differences
//  from Alloy, on purpose: decompression (f) runs after path/method/Content-Type checks instead of
//  before them, so a bad encoding on an unknown path gets 404 rather than 400; the
//  decompressed-size overflow is 413 instead of 400; Retry-After is always sent on 429/503.
//  Refusals are counted with Dispatcher::countRefused(signal, protocol, reason): reasons
//  "unauthenticated", "not_found", "unsupported_media_type", "unsupported_encoding",
//  "too_large", "malformed", "memory_limit". The signal is the one of the matched path; when the
//  path is unknown (401 before path matching, 404) the request is counted under logs. The protocol
//  is kHttpProtobuf for an application/x-protobuf request and kHttpJson otherwise. 405 is not
//  counted.
//
// Threading: handleOtlpHttp() is pure apart from the dispatcher/auth calls and is thread-safe when
// they are. HttpReceiver runs handlers synchronously on `io_threads` I/O threads (see
// net/http_server.h); the auth provider is called once per request (at its headers) and must be
// thread-safe.
// start() may be called once; stop() is idempotent and returns after in-flight handlers finished;
// the destructor calls stop(). The Dispatcher and the provider must outlive stop().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "src/common/memory_budget.h"
#include "src/components/otelcol/auth/handler.h"
#include "src/components/otelcol/receiver/otlp/dispatch.h"
#include "src/net/http_server.h"
#include "src/net/tls/tls.h"

namespace telegate::otelcol::receiver_otlp {

struct CorsOptions {
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_headers;
  int64_t max_age = 0;  // seconds; 0 = no Access-Control-Max-Age
};

struct HttpReceiverOptions {
  std::string endpoint = "0.0.0.0:4318";
  std::string traces_path = "/v1/traces";
  std::string metrics_path = "/v1/metrics";
  std::string logs_path = "/v1/logs";
  // telegate extension: each signal path is also served under these prefixes.
  std::vector<std::string> path_prefixes = {"/observability"};
  size_t max_request_body_size = 20 << 20;  // raw body AND decompressed body
  std::vector<std::string> compression_algorithms = {"",     "gzip",   "zstd",
                                                     "zlib", "snappy", "deflate"};
  std::optional<CorsOptions> cors;
  int io_threads = 2;
  // Connection protection, passed to net::HttpServer (see net/http_server.h for the semantics).
  std::chrono::milliseconds read_header_timeout{10000};
  std::chrono::milliseconds read_timeout{60000};  // whole request, header + body
  std::chrono::milliseconds idle_timeout{60000};
  size_t min_receive_rate = 1024;  // bytes/s after min_rate_grace; 0 = none
  std::chrono::milliseconds min_rate_grace{5000};
  size_t max_connections = 4096;
  size_t max_connections_per_client = 1024;  // 0 = no per-source limit
  // Request bodies, decompressed bodies and JSON decoding are charged here; null = not charged.
  MemoryBudget* memory_budget = &globalMemoryBudget();
  std::string server_name = "otlp_http";  // `server` label of the HTTP server metrics
  // TLS (rotation, client certificates; see net/tls/tls.h); null: plaintext. A verified client
  // certificate reaches authentication as AuthRequest::peer.
  std::shared_ptr<net::tls::TlsServerContext> tls;
};

using AuthProvider = std::function<std::shared_ptr<AuthHandler>()>;  // null result = no auth

net::HttpResponse handleOtlpHttp(const net::HttpRequest& req, const HttpReceiverOptions& opts,
                                 Dispatcher& dispatcher, const AuthHandler* auth);
// The same, taking the body out of `req` instead of copying it (an uncompressed protobuf body
// becomes the dispatched payload without a copy). `req.body` is unspecified afterwards.
net::HttpResponse handleOtlpHttp(net::HttpRequest&& req, const HttpReceiverOptions& opts,
                                 Dispatcher& dispatcher, const AuthHandler* auth);

// The header stage alone (steps a-f without decoding): what HttpReceiver's header_check returns.
// The accepted state is the authenticated client (shared_ptr<const pdata::ClientInfo>, null
// without auth).
net::HeaderDecision checkOtlpHttpHeaders(const net::HttpRequest& req,
                                         const HttpReceiverOptions& opts, Dispatcher& dispatcher,
                                         const AuthHandler* auth);
// The body stage of a request checkOtlpHttpHeaders accepted (req.state is its state): decoding
// (f, g) and dispatch (h). Takes the body out of `req`.
net::HttpResponse handleOtlpHttpBody(net::HttpRequest&& req, const HttpReceiverOptions& opts,
                                     Dispatcher& dispatcher);

class HttpReceiver {
 public:
  HttpReceiver(HttpReceiverOptions opts, Dispatcher& dispatcher, AuthProvider auth);
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  // Binds and serves. Errors name the address ("listen tcp 0.0.0.0:4318: address already in
  // use").
  absl::Status start();
  void stop();

  std::string boundAddress() const;  // "" before start()
  size_t openConnections() const;

 private:
  const HttpReceiverOptions opts_;
  Dispatcher& dispatcher_;
  AuthProvider auth_;
  std::unique_ptr<net::HttpServer> server_;
};

}  // namespace telegate::otelcol::receiver_otlp
