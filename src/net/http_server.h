// A small HTTP/1.1 server on Boost.Beast, used by the admin API and as the base of the OTLP/HTTP
// receiver.
//
// Contract:
//  * HTTP/1.1 and HTTP/1.0, keep-alive (requests on one connection are handled one at a time;
//    pipelined requests are answered in order). Every response carries Content-Length (except
//    1xx/204/304) and a Date header; `Connection: close` is sent whenever the server closes the
//    connection after the response.
//  * Header stage: when `header_check` is set it is called with the request line and headers
//    (HttpRequest with an empty body) as soon as the header is complete: before `100 Continue` is
//    sent and before any body byte is read. It returns either
//      - HeaderDecision::refuse(response): the server sends the response and closes the connection
//        without reading the body. When the request announced a body the response carries
//        `Connection: close` and the server half-closes and discards what the client is still
//        sending for at most 500 ms / 4 MiB (only so that the client reads the response instead of
//        a reset; the discarded bytes are never held); a request without a body keeps the
//        connection as it asked for; or
//      - HeaderDecision::accept(state, authenticated): the body is read and the handler runs with
//        HttpRequest::state = state (an opaque per-request value, e.g. the authenticated client,
//        so the handler does not authenticate a second time). `authenticated` marks the
//        connection as having proven itself (see the connection table below).
//    Without a header_check every complete request header is accepted and authenticates the
//    connection. The check runs on the connection's strand like the handler (same threading
//    rules); an exception from it -> 500 and close.
//  * The whole request body is read into memory before the handler runs, bounded by
//    max_body_bytes. A declared Content-Length above the limit is answered with 413 right after the
//    headers, without reading the body; a chunked body that grows past the limit gets 413 as soon
//    as it does. `Expect: 100-continue` is honoured: the interim `100 Continue` is sent after the
//    headers are accepted (never before a 413).
//  * Headers above 64 KiB -> 431. A malformed request -> 400. After 400/413/431 the connection is
//    closed (with a short lingering drain so the client sees the response). Handler exceptions ->
//    500 (the connection stays usable).
//  * Memory: every body byte is charged to `memory_budget` before it is held. A body with a
//    Content-Length is reserved in full right after the header check; a chunked body is reserved
//    ahead of the buffer that will hold it, in geometrically growing steps (so the charge is at
//    most twice the body). When the reservation fails the request gets 429 with
//    `Retry-After: retry_after_seconds` and `Connection: close` before any body byte is read
//    (or, for a chunked body, as soon as it grows past what the budget allows). The reservation
//    travels with the request (HttpRequest::body_reservation) and is released when the handler's
//    HttpRequest is destroyed, i.e. when the handler is done with it (or earlier if the handler
//    resets it). Counted in telegate_http_server_refused_requests_total{server,reason=
//    "memory_limit"}; logged at most once a minute.
//  * Memory of request heads: while a request head (request line + headers) is incomplete, what
//    the connection holds for it (its read buffer's capacity plus the request line the parser
//    has already taken out of it) is charged to `memory_budget` beyond a fixed allowance of
//    4 KiB per connection, before the read that may fill it: the buffer grows (doubling, at
//    most to about max_header_bytes) only after the growth was reserved. Every normal head fits
//    the allowance, so it costs no budget operation. When the reservation fails the connection
//    gets 429 with `Retry-After` and `Connection: close` and is closed (lingering, as above);
//    counted in telegate_http_server_connections_shed_total{server,reason="memory_limit"} and
//    logged with the other sheds. The head charge is given back when the request is dispatched
//    to the handler (before it runs), refused, or failed, or when the connection ends; a read
//    buffer that grew past the allowance is freed at the same time (pipelined bytes it still
//    holds stay charged).
//  * A body with a Content-Length larger than the read buffer is read in pieces of up to 64 KiB:
//    the buffer grows to min(Content-Length, 64 KiB) after the header check, its growth beyond
//    the 4 KiB allowance is charged with the body, and it shrinks back when the request is
//    dispatched. When the budget has no room for the growth the body is read with the small
//    buffer.
//  * Deadlines (0 disables one). A request starts at accept (first request), at the first byte of
//    the next request (keep-alive) or when the previous response was written (pipelined bytes):
//      header_timeout: the request line + headers must be complete within this time of the start
//        (slowloris).
//      read_timeout: the whole request (headers and body) must be read within this time of the
//        start.
//      min_receive_rate: after min_rate_grace from the end of the headers, the body must have
//        arrived at this average rate (bytes/s) since the end of the headers, so a client
//        dribbling a byte at a time is closed long before read_timeout.
//      idle_timeout: a keep-alive connection waiting for the next request is closed after this;
//        it also bounds inactivity while reading a body and the time to write a response.
//    On expiry the connection is closed without a response; counted in
//    telegate_http_server_connections_shed_total{server,reason} with reason "header_timeout",
//    "request_timeout", "min_receive_rate" or "idle_timeout" (a stalled body read; a keep-alive
//    connection that simply stays idle is not counted).
//  * Connection table. A connection is "authenticated" once one of its requests passed the
//    header_check with authenticated = true (without a header_check: once it sent a complete
//    request header). A new connection is admitted as follows:
//      - max_connections_per_client (0 = no limit): a source IP with this many open connections
//        makes room by shedding its own oldest unauthenticated or idle connection; if it has none
//        the new connection is closed (reason "per_client_limit" either way).
//      - max_connections: when the table is full, the oldest unauthenticated connection is shed,
//        else the connection idle the longest between keep-alive requests (reasons
//        "unauthenticated", "idle"); authenticated connections inside a request (past their
//        header, or reading the header of a later request) are never shed for a new one. When
//        nothing can be shed the new connection is closed (reason "connection_limit").
//      - accept() failing for lack of file descriptors (EMFILE/ENFILE) sheds the same way to free
//        a descriptor and retries at once, so an exhausted process keeps admitting clients.
//    Shedding is logged at most once a minute.
//  * Stop: stop() closes every connection at once, including those in the middle of reading a
//    request; handlers already running finish and their responses are dropped.
//  * TLS (options.tls set): every accepted connection first does a TLS handshake with the server
//    context current at accept (tls::TlsServerContext::current(); the connection keeps it, so a
//    certificate rotation never cuts it, and the next connection uses the new certificate). The
//    handshake counts against header_timeout (the deadline of the first request starts at
//    accept) and the connection is unauthenticated in the connection table until a request passed
//    the header check, so handshake floods are shed like slow headers. Its state (about
//    96 KiB: OpenSSL's record buffers, the SSL state and the base ciphertext buffer; see
//    http_stream.h for the larger read-ahead of body reads, charged while it lasts) is charged to
//    memory_budget before the handshake; a refusal closes the connection (shed reason
//    "memory_limit"). A failed handshake closes the connection; counted in
//    telegate_http_server_tls_handshake_failures_total{server, reason} (reason "protocol_version",
//    "no_shared_cipher", "client_certificate", "plain_http", "client_alert" (e.g. the client does
//    not trust the certificate), "eof" or "other"; a handshake cut by header_timeout is counted as
//    a header_timeout shed) and logged at most once a minute. Completed handshakes are counted in
//    telegate_http_server_tls_handshakes_total{server,resumed="true"|"false"}. Then HTTP/1.1 is
//    served exactly as over plain TCP; HttpRequest::tls is true and HttpRequest::peer holds the
//    verified client certificate (also for the header_check).
//  * HEAD requests are passed to the handler like GET; the body it returns is not sent but its
//    length is reported in Content-Length.
//  * The handler gets the request by non-const reference and may move the body out of it (the
//    server reads nothing but `path` and `remote_addr` after the handler returns); a handler
//    taking `const HttpRequest&` works as well.
//
// Threading: `io_threads` threads run the event loop; each connection is bound to a strand, so its
// handler calls are sequential. Handlers run on the I/O threads and must not block for long (a
// later version will add a worker pool); they may be called concurrently for different
// connections when io_threads > 1, so the handler must be thread-safe. All HttpServer methods are
// thread-safe. stop() must not be called from a handler. The server does not own anything the
// handler captures; the handler must stay valid until stop() returns.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/memory_budget.h"
#include "src/common/metrics.h"
#include "src/net/tls/tls.h"

namespace telegate::net {

struct HttpRequest {
  std::string method;  // "GET"
  std::string target;  // raw request target including the query
  std::string path;    // target without the query
  std::string query;   // after '?', without it; "" if none
  int version = 11;    // 10 or 11
  std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
  std::string body;
  std::string remote_addr;  // "127.0.0.1:54321" or "[::1]:54321"
  bool tls = false;         // the connection is TLS
  // The client certificate of a TLS connection, when one was presented and verified against
  // the server's client CA; null otherwise (plain connections included). Shared by every
  // request of the connection.
  std::shared_ptr<const tls::PeerIdentity> peer;
  // What the header_check accepted the request with (null without a header_check).
  std::shared_ptr<const void> state;
  // The memory budget charge of `body` (see the contract); released when the request is
  // destroyed (or reset() earlier). A copy of the request does not carry the charge.
  class Charge {
   public:
    Charge() = default;
    explicit Charge(MemoryReservation r) : r_(std::move(r)) {}
    Charge(const Charge&) {}
    Charge& operator=(const Charge&) {
      r_.reset();
      return *this;
    }
    Charge(Charge&&) noexcept = default;
    Charge& operator=(Charge&&) noexcept = default;
    size_t bytes() const { return r_.bytes(); }
    void reset() { r_.reset(); }

   private:
    MemoryReservation r_;
  };
  Charge body_reservation;

  // Case-insensitive; first value; "" if absent.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";  // omitted when empty
  // Extra headers. Content-Length, Connection, Transfer-Encoding and Date are managed by the
  // server and ignored here.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static HttpResponse text(int status, std::string body);
};

using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

// The verdict of a header_check (see the contract above).
struct HeaderDecision {
  std::optional<HttpResponse> refusal;  // set: refused with this response
  std::shared_ptr<const void> state;    // accepted: becomes HttpRequest::state
  bool authenticated = true;            // accepted: the connection counts as authenticated

  static HeaderDecision accept(std::shared_ptr<const void> state = nullptr,
                               bool authenticated = true) {
    HeaderDecision d;
    d.state = std::move(state);
    d.authenticated = authenticated;
    return d;
  }
  static HeaderDecision refuse(HttpResponse r) {
    HeaderDecision d;
    d.refusal = std::move(r);
    d.authenticated = false;
    return d;
  }
};

// Called with the request without its body (HttpRequest::body empty, state null).
using HeaderCheck = std::function<HeaderDecision(const HttpRequest&)>;

struct HttpServerOptions {
  // "host:port". Host may be an IPv4/IPv6 literal (IPv6 in brackets), a name such as localhost
  // (first resolved address, IPv4 preferred), or empty (":4318" = all interfaces, dual stack).
  std::string listen_addr = "127.0.0.1:0";
  // The `server` label of this server's metrics and the field of its log lines.
  std::string name = "http";
  int io_threads = 1;
  size_t max_body_bytes = 20u << 20;
  size_t max_header_bytes = 64u << 10;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds read_timeout{60000};
  size_t min_receive_rate = 1024;  // bytes/s; 0 = no minimum
  std::chrono::milliseconds min_rate_grace{5000};
  size_t max_connections = 4096;
  size_t max_connections_per_client = 1024;  // 0 = no per-source limit
  // Bodies and request heads beyond the per-connection allowance are charged here; null = not
  // charged.
  MemoryBudget* memory_budget = &globalMemoryBudget();
  int retry_after_seconds = 1;  // Retry-After of the 429 sent when the budget is exhausted
  // Where the server's counters are registered; null = nowhere.
  metrics::Registry* metrics = &metrics::defaultRegistry();
  // Judges requests at their headers; empty = accept every request.
  HeaderCheck header_check;
  // TLS on every accepted connection (see the contract); null = plain HTTP. Its alpn list must
  // offer nothing but "http/1.1" (or be empty): this server speaks HTTP/1.x only.
  std::shared_ptr<tls::TlsServerContext> tls;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions opts, HttpHandler handler);
  ~HttpServer();  // calls stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads. Errors name the address, e.g.
  // "listen tcp 127.0.0.1:12345: address already in use". May be called once.
  absl::Status start();
  // Closes the listener and all connections and joins the I/O threads. Idempotent. Returns once
  // in-flight handlers have finished.
  void stop();

  // "127.0.0.1:45678" ("[::1]:45678" for IPv6); "" before start().
  std::string boundAddress() const;
  uint16_t port() const;
  size_t openConnections() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Parses "host:port" ("[v6]:port"; empty host allowed). Errors for a missing port, a port that is
// not a number in [0, 65535], or unbalanced brackets.
absl::StatusOr<std::pair<std::string, uint16_t>> splitHostPort(std::string_view addr);

// "host:port", bracketing hosts that contain ':'.
std::string joinHostPort(std::string_view host, uint16_t port);

}  // namespace telegate::net
