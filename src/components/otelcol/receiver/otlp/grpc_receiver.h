// The OTLP/gRPC server of otelcol.receiver.otlp (the `grpc` block).
//
// Contract:
//  * Serves `opentelemetry.proto.collector.{trace.v1.TraceService,metrics.v1.MetricsService,
//    logs.v1.LogsService}/Export` without decoding requests: the raw request message bytes (after
//    gRPC's own message decompression: identity, gzip, deflate) are handed to
//    Dispatcher::dispatch() as the wire payload, and success is answered with an empty
//    Export*ServiceResponse. gRPC 1.51 implements only the identity, deflate and gzip message
//    encodings (GRPC_COMPRESS_*), not zstd or snappy (which grpc-go/Alloy accept): such requests
//    fail inside gRPC core with an error status and never reach the dispatcher.
//  * Order of checks per call (as in grpc-go, where unregistered services never reach the auth
//    interceptor): unknown method or a signal for which `dispatcher.hasSignal()` is false ->
//    UNIMPLEMENTED ("unknown service X" / "unknown method M for service X"); then, when the auth
//    provider returns a handler, AuthHandler::authenticate(AuthRequest) over the client metadata
//    (lower-case keys) and, when `tls` verifies client certificates, the caller's verified
//    certificate (peerIdentity() of the call's auth context; null otherwise), before the message
//    is read -> UNAUTHENTICATED with the handler's message and
//    countRefused(signal, kGrpc, "unauthenticated"); then the message is read and dispatched
//    with the authenticated ClientInfo (null without auth).
//  * dispatch() status -> gRPC status with the same code and message. RESOURCE_EXHAUSTED and
//    UNAVAILABLE carry a google.rpc.Status with a google.rpc.RetryInfo
//    (retry_delay = dispatcher.retryAfterSeconds()) in the `grpc-status-details-bin` trailer.
//  * Messages larger than `max_recv_msg_size` are refused by gRPC core with RESOURCE_EXHAUSTED
//    before the dispatcher sees them ("Received message larger than max (N vs. M)"); the limit
//    also applies to the decompressed size. gRPC does not tell the application, so these are not
//    counted as "too_large". The connection stays usable.
//  * A call refused because its signal has no consumer is counted as countRefused(signal, kGrpc,
//    "not_found"), like the HTTP server's 404.
//  * The standard `grpc.health.v1.Health` service reports SERVING (for "" and the three OTLP
//    service names) while the server runs. Note: grpc::EnableDefaultHealthCheckService is a
//    process-wide switch; start() turns it on.
//  * A connection whose streams keep ending before their request message, failing
//    authentication or naming unknown methods is closed once it exceeds its budget
//    (abuse_burst / abuse_per_second, ConnGuard); each close calls on_connection_closed and is
//    logged at most once a minute. Calls of a closed connection that gRPC still delivers are
//    dropped without a status or any count (their client is gone).
//  * At most `max_waiting_calls` calls wait for their request message; a call past that is
//    refused with RESOURCE_EXHAUSTED (with RetryInfo), counted as countRefused(signal, kGrpc,
//    "too_many_waiting_calls") and as an abusive stream of its connection.
//  * SO_REUSEPORT is disabled, so a second listener on a used port fails like Go's net.Listen.
//
// Threading: start() and stop() are called from one controlling thread. Calls are served by
// `completion_threads` threads polling completion queues; dispatch() runs on those threads,
// concurrently, and is expected not to block for long (it occupies a server thread while it
// runs). stop() stops accepting calls, cancels at once the calls still waiting for their request
// message (a client that sent only HEADERS cannot hold the shutdown), lets calls whose message
// arrived finish until `deadline`, then shuts the server down at once (idle and half-open
// connections are closed, calls still unanswered are cancelled); it returns once no server thread
// touches the Dispatcher any more, so it also waits for dispatch() calls still running past the
// deadline. The destructor calls stop(now).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "src/common/log.h"
#include "src/components/otelcol/auth/handler.h"
#include "src/components/otelcol/receiver/otlp/dispatch.h"
#include "src/components/otelcol/receiver/otlp/grpc_conn_guard.h"
#include "src/components/otelcol/receiver/otlp/grpc_tls.h"

namespace grpc {
class ResourceQuota;
class Server;
class ServerCompletionQueue;
class AsyncGenericService;
}  // namespace grpc

namespace telegate::otelcol::receiver_otlp {

// Protective limits (telegate defaults; docs/operations.md "gRPC and HTTP/2 rapid reset"). A
// duration or size of 0 leaves gRPC core's own default (keepalive ping 2 h / timeout 20 s, no
// idle or age limit, handshake 120 s, 8 KiB metadata, no memory quota).
struct GrpcReceiverOptions {
  std::string endpoint = "0.0.0.0:4317";
  size_t max_recv_msg_size = 4 << 20;
  // SETTINGS_MAX_CONCURRENT_STREAMS per connection (Alloy: unlimited; telegate: 100). 0 =
  // unlimited. gRPC 1.51 enforces it only once the client has acknowledged the SETTINGS frame and
  // then treats a stream over the limit as a connection error (the connection is closed).
  int64_t max_concurrent_streams = 100;
  size_t read_buffer_size = 512 << 10;  // initial TCP read size (GRPC_ARG_TCP_READ_CHUNK_SIZE)
  // Keepalive: server ping time/timeout, max connection idle/age/grace, enforcement policy
  // min_time (minimum interval between client pings; gRPC C++ enforces it on pings without data,
  // GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS) and permit_without_stream (allow
  // client pings when no call is active; otherwise at most one per 2 h without calls). A client
  // that pings more often gets a strike; more than max_ping_strikes strikes without data between
  // them close its connection with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings").
  std::chrono::milliseconds keepalive_time{0}, keepalive_timeout{0};
  std::chrono::milliseconds max_connection_idle{std::chrono::minutes(10)};
  std::chrono::milliseconds max_connection_age{std::chrono::minutes(30)};
  std::chrono::milliseconds max_connection_age_grace{std::chrono::seconds(30)};
  std::chrono::milliseconds min_ping_interval{std::chrono::minutes(5)};
  bool permit_without_stream = false;
  int max_ping_strikes = 2;
  // Sum of one header block's metadata (GRPC_ARG_MAX_METADATA_SIZE); larger requests are refused.
  size_t max_metadata_size = 8 << 10;
  // A connection must complete the TLS handshake and send the HTTP/2 preface and SETTINGS
  // within this time (GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS).
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  // Bytes gRPC core may allocate for this server (read buffers, HTTP/2 state, calls) through a
  // grpc::ResourceQuota; 0 = no quota. Near the quota gRPC shrinks flow-control windows, drops
  // new connections and closes connections to reclaim memory. See defaultMemoryQuota().
  size_t memory_quota = 0;
  // Abusive streams per connection (see grpc_conn_guard.h): a connection may produce
  // `abuse_burst` streams that end before their request message, fail authentication or name an
  // unknown method, refilled at `abuse_per_second`; past that it is closed. 0 burst: never closed.
  double abuse_burst = 20;
  double abuse_per_second = 10;
  // Calls that have started but not yet received their whole request message, over all
  // connections; past it new calls are refused with RESOURCE_EXHAUSTED (and count as abusive
  // streams of their connection). 0: no cap.
  int max_waiting_calls = 4096;
  // Called (on a server thread) after the guard closed a connection.
  std::function<void()> on_connection_closed;
  // TLS (credentials, rotation, client certificates; see grpc_tls.h); null: plaintext. When it
  // verifies client certificates, the caller's verified certificate goes to authentication.
  std::shared_ptr<GrpcServerTls> tls;
  // Threads serving calls (each runs dispatch() synchronously); 0: hardware concurrency. Threads
  // share completion queues in pairs so that one slow dispatch() does not stall other calls.
  int completion_threads = 0;
  log::Logger logger;  // for "starting"/"stopped" lines
};

// The gRPC memory quota for a process whose `--memory.limit` is `memory_limit` bytes (0: none):
// a quarter of the limit, at least 32 MiB; 512 MiB without a limit.
size_t defaultMemoryQuota(size_t memory_limit);

// Returns the current auth handler; a null handler means no authentication. Called once per call.
using AuthProvider = std::function<std::shared_ptr<AuthHandler>()>;

class GrpcReceiver {
 public:
  GrpcReceiver(GrpcReceiverOptions opts, Dispatcher& dispatcher, AuthProvider auth);
  ~GrpcReceiver();
  GrpcReceiver(const GrpcReceiver&) = delete;
  GrpcReceiver& operator=(const GrpcReceiver&) = delete;

  // Binds and starts serving. Errors name the address, e.g.
  // "listen tcp 0.0.0.0:4317: bind: address already in use". May be called once.
  absl::Status start();
  // Stops accepting calls, lets in-flight calls finish until `deadline`, then cancels them.
  // Idempotent; safe to call when start() failed or was never called.
  void stop(std::chrono::steady_clock::time_point deadline);
  // host:port with the real port when the endpoint used port 0 (empty before start()).
  std::string boundAddress() const;

 private:
  struct Call;    // one RPC's state machine (defined in the .cc)
  struct CqSlot;  // a completion queue with its shutdown guard

  GrpcReceiverOptions opts_;
  Dispatcher& dispatcher_;
  AuthProvider auth_;
  std::unique_ptr<ConnGuard> guard_;   // null when abuse_burst is 0
  std::atomic<int> waiting_calls_{0};  // calls in Read() of their request message
  std::atomic<bool> stopping_{false};  // set when stop() begins
  std::atomic<int> active_calls_{0};   // calls being dispatched or answered
  log::OnceEvery guard_log_{std::chrono::seconds(60)};
  std::unique_ptr<grpc::ResourceQuota> quota_;
  std::unique_ptr<grpc::AsyncGenericService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<CqSlot>> cqs_;
  std::vector<std::thread> threads_;
  std::string bound_address_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace telegate::otelcol::receiver_otlp
