#include "src/components/otelcol/receiver/otlp/grpc_receiver.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/server_credentials.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>
#include <optional>
#include <utility>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "src/common/strings.h"

namespace telegate::otelcol::receiver_otlp {

namespace {

constexpr std::string_view kTraceService = "opentelemetry.proto.collector.trace.v1.TraceService";
constexpr std::string_view kMetricsService =
    "opentelemetry.proto.collector.metrics.v1.MetricsService";
constexpr std::string_view kLogsService = "opentelemetry.proto.collector.logs.v1.LogsService";

// Outstanding RequestCall()s per completion queue: lets bursts of new calls be matched without
// waiting for a handler to re-arm.
constexpr int kRequestsPerCq = 8;

// Resolves "/<service>/<method>" to a signal, or explains why not (grpc-go's texts).
std::optional<pdata::Signal> resolveMethod(std::string_view path, std::string* error) {
  if (path.size() < 2 || path[0] != '/' || path.find('/', 1) == std::string_view::npos) {
    *error = strCat("malformed method name: \"", path, "\"");
    return std::nullopt;
  }
  size_t slash = path.find('/', 1);
  std::string_view service = path.substr(1, slash - 1);
  std::string_view method = path.substr(slash + 1);
  std::optional<pdata::Signal> signal;
  if (service == kTraceService) {
    signal = pdata::Signal::kTraces;
  } else if (service == kMetricsService) {
    signal = pdata::Signal::kMetrics;
  } else if (service == kLogsService) {
    signal = pdata::Signal::kLogs;
  } else {
    *error = strCat("unknown service ", service);
    return std::nullopt;
  }
  if (method != "Export") {
    *error = strCat("unknown method ", method, " for service ", service);
    return std::nullopt;
  }
  return signal;
}

std::string_view serviceName(pdata::Signal s) {
  switch (s) {
    case pdata::Signal::kTraces:
      return kTraceService;
    case pdata::Signal::kMetrics:
      return kMetricsService;
    case pdata::Signal::kLogs:
      return kLogsService;
  }
  return "";
}

grpc::StatusCode toGrpcCode(absl::StatusCode code) {
  int c = static_cast<int>(code);
  if (c < 0 || c > static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) {
    return grpc::StatusCode::UNKNOWN;
  }
  return static_cast<grpc::StatusCode>(c);
}

// dispatch() result -> gRPC status; retryable refusals carry RetryInfo in the status details.
grpc::Status toGrpcStatus(const absl::Status& st, int retry_after_seconds) {
  grpc::StatusCode code = toGrpcCode(st.code());
  std::string message(st.message());
  if (code != grpc::StatusCode::RESOURCE_EXHAUSTED && code != grpc::StatusCode::UNAVAILABLE) {
    return grpc::Status(code, message);
  }
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(retry_after_seconds > 0 ? retry_after_seconds : 0);
  google::rpc::Status details;
  details.set_code(static_cast<int32_t>(code));
  details.set_message(message);
  details.add_details()->PackFrom(retry);
  return grpc::Status(code, message, details.SerializeAsString());
}

// Copies the received message into one string: a single memcpy per slice, no zero-filling.
std::string flatten(grpc::ByteBuffer& buf) {
  std::string out;
  std::vector<grpc::Slice> slices;
  if (!buf.Dump(&slices).ok()) return out;
  out.reserve(buf.Length());
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

struct HostPort {
  std::string host;  // without brackets
  std::string port;
  bool ipv6_literal = false;
};

absl::StatusOr<HostPort> splitHostPort(const std::string& endpoint) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        strCat("listen tcp ", endpoint, ": address ", endpoint, ": missing port in address"));
  }
  HostPort hp;
  hp.host = endpoint.substr(0, colon);
  hp.port = endpoint.substr(colon + 1);
  if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
    hp.ipv6_literal = true;
  } else if (hp.host.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(
        strCat("listen tcp ", endpoint, ": address ", endpoint, ": too many colons in address"));
  }
  if (hp.port.empty() || hp.port.find_first_not_of("0123456789") != std::string::npos ||
      hp.port.size() > 5 || std::stoi(hp.port) > 65535) {
    return absl::InvalidArgumentError(
        strCat("listen tcp ", endpoint, ": address ", endpoint, ": invalid port"));
  }
  return hp;
}

std::string lowerFirst(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

// gRPC only reports "could not bind"; probing with a plain socket (SO_REUSEADDR like gRPC, no
// SO_REUSEPORT) first yields Go-style errors naming the cause. Racy by nature, so gRPC's own
// failure is still handled by the caller.
absl::Status probeListen(const std::string& endpoint, const HostPort& hp) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(hp.host.empty() ? nullptr : hp.host.c_str(), hp.port.c_str(), &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError(
        strCat("listen tcp ", endpoint, ": lookup ", hp.host, ": ", gai_strerror(rc)));
  }
  absl::Status status;
  if (res != nullptr) {
    int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (fd >= 0) {
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        status = absl::UnavailableError(
            strCat("listen tcp ", endpoint, ": bind: ", lowerFirst(std::strerror(errno))));
      }
      ::close(fd);
    }
  }
  freeaddrinfo(res);
  return status;
}

std::chrono::system_clock::time_point toSystem(std::chrono::steady_clock::time_point t) {
  auto left = t - std::chrono::steady_clock::now();
  if (left < std::chrono::steady_clock::duration::zero()) left = {};
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(left);
}

int clampInt(uint64_t v) {
  return v > static_cast<uint64_t>(INT_MAX) ? INT_MAX : static_cast<int>(v);
}

}  // namespace

size_t defaultMemoryQuota(size_t memory_limit) {
  constexpr size_t kMiB = size_t{1} << 20;
  if (memory_limit == 0) return 512 * kMiB;
  return std::max<size_t>(32 * kMiB, memory_limit / 4);
}

struct GrpcReceiver::CqSlot {
  std::unique_ptr<grpc::ServerCompletionQueue> cq;
  // Guards starting operations against cq->Shutdown(): an operation started after Shutdown()
  // is a gRPC assertion failure. Held only for the non-blocking start of an operation.
  std::mutex mu;
  bool closed = false;  // guarded by mu
  // Calls in Read() of their request message, so that stop() can cancel them at once; an
  // intrusive list (Call::prev/next), guarded by mu.
  Call* reading = nullptr;
};

struct GrpcReceiver::Call {
  enum class State { kRequested, kReading, kFinishing };

  Call(GrpcReceiver* r, CqSlot* s) : receiver(r), slot(s), stream(&ctx) {}
  ~Call() {
    if (active) receiver->active_calls_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Arms a new RequestCall on `slot` unless the receiver is stopping.
  static void request(GrpcReceiver* r, CqSlot* s) {
    auto* call = new Call(r, s);
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->closed) {
      delete call;
      return;
    }
    r->service_->RequestCall(&call->ctx, &call->stream, s->cq.get(), s->cq.get(), call);
  }

  void proceed(bool ok) {
    switch (state) {
      case State::kRequested:
        if (!ok) {  // server shutting down
          delete this;
          return;
        }
        request(receiver, slot);
        onNewCall();
        return;
      case State::kReading:
        receiver->waiting_calls_.fetch_sub(1, std::memory_order_relaxed);
        unlinkReading();
        if (!ok) {  // client went away, or gRPC refused the message (too large, bad encoding)
          if (!receiver->stopping_.load(std::memory_order_relaxed)) reportAbuse();
          delete this;
          return;
        }
        active = true;
        receiver->active_calls_.fetch_add(1, std::memory_order_relaxed);
        onMessage();
        return;
      case State::kFinishing:
        delete this;
        return;
    }
  }

  void onNewCall() {
    // During an attack (a connection was closed in the last 10 s), calls of closed connections
    // still queued inside gRPC are dropped at once: no auth, no status, no metrics.
    if (ConnGuard* guard = receiver->guard_.get()) {
      if (guard->closedRecently(std::chrono::steady_clock::now(), std::chrono::seconds(10)) &&
          guard->isClosed(ctx.peer())) {
        delete this;
        return;
      }
    }
    std::string error;
    std::optional<pdata::Signal> sig = resolveMethod(ctx.method(), &error);
    if (!sig) {
      reportAbuse();
      finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, error));
      return;
    }
    signal = *sig;
    Dispatcher& d = receiver->dispatcher_;
    if (!d.hasSignal(signal)) {
      d.countRefused(signal, Protocol::kGrpc, "not_found");
      finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          strCat("unknown service ", serviceName(signal))));
      return;
    }
    if (receiver->auth_) {
      std::shared_ptr<AuthHandler> handler = receiver->auth_();
      if (handler) {
        const auto& md = ctx.client_metadata();
        HeaderLookup lookup = [&md](std::string_view name) -> std::string_view {
          auto it = md.find(grpc::string_ref(name.data(), name.size()));
          if (it == md.end()) return {};
          return std::string_view(it->second.data(), it->second.size());
        };
        std::shared_ptr<const net::tls::PeerIdentity> peer;
        if (const GrpcServerTls* tls = receiver->opts_.tls.get(); tls && tls->verifiesClients()) {
          if (std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context()) {
            peer = peerIdentity(*auth);
          }
        }
        AuthResult result = handler->authenticate(AuthRequest{lookup, peer.get()});
        if (!result.ok) {
          d.countRefused(signal, Protocol::kGrpc, "unauthenticated");
          reportAbuse();
          finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, result.message));
          return;
        }
        client = std::move(result.client);
      }
    }
    // Calls still waiting for their request message are capped: streams opened and left open
    // (possible without limit when a client never acknowledges SETTINGS) cannot pile up.
    int waiting = receiver->waiting_calls_.fetch_add(1, std::memory_order_relaxed);
    if (receiver->opts_.max_waiting_calls > 0 && waiting >= receiver->opts_.max_waiting_calls) {
      receiver->waiting_calls_.fetch_sub(1, std::memory_order_relaxed);
      d.countRefused(signal, Protocol::kGrpc, "too_many_waiting_calls");
      reportAbuse();
      finish(toGrpcStatus(
          absl::ResourceExhaustedError("too many calls are waiting for their request message"),
          d.retryAfterSeconds()));
      return;
    }
    state = State::kReading;
    std::unique_lock<std::mutex> lock(slot->mu);
    if (slot->closed || receiver->stopping_.load(std::memory_order_relaxed)) {
      lock.unlock();
      receiver->waiting_calls_.fetch_sub(1, std::memory_order_relaxed);
      delete this;
      return;
    }
    next = slot->reading;
    if (next != nullptr) next->prev = this;
    slot->reading = this;
    stream.Read(&request_buf, this);
  }

  void unlinkReading() {
    std::lock_guard<std::mutex> lock(slot->mu);
    if (prev != nullptr) {
      prev->next = next;
    } else {
      slot->reading = next;
    }
    if (next != nullptr) next->prev = prev;
    prev = next = nullptr;
  }

  void onMessage() {
    {
      // After stop() has cancelled the calls, a message that was already read is not dispatched:
      // the client has seen an error and will retry.
      std::unique_lock<std::mutex> lock(slot->mu);
      if (slot->closed) {
        lock.unlock();
        delete this;
        return;
      }
    }
    std::string wire = flatten(request_buf);
    request_buf.Clear();
    Dispatcher& d = receiver->dispatcher_;
    absl::Status st = d.dispatch(signal, std::move(wire), std::move(client), Protocol::kGrpc);
    if (st.ok()) {
      finish(grpc::Status::OK);
    } else {
      finish(toGrpcStatus(st, d.retryAfterSeconds()));
    }
  }

  bool stopping() {
    std::lock_guard<std::mutex> lock(slot->mu);
    return slot->closed;
  }

  // One abusive stream on this call's connection (the call is still alive, see ConnGuard).
  void reportAbuse() {
    ConnGuard* guard = receiver->guard_.get();
    if (guard == nullptr) return;
    std::string peer = ctx.peer();
    if (!guard->onAbuse(peer, std::chrono::steady_clock::now())) return;
    if (receiver->opts_.on_connection_closed) receiver->opts_.on_connection_closed();
    if (receiver->guard_log_.shouldLog()) {
      receiver->opts_.logger.warn(
          "closed a gRPC connection: too many streams ended before their request, failed "
          "authentication or named unknown methods (HTTP/2 rapid reset protection)",
          {{"peer", peer}});
    }
  }

  // Sends the final status; OK also sends the (empty) Export*ServiceResponse.
  void finish(const grpc::Status& status) {
    state = State::kFinishing;
    std::unique_lock<std::mutex> lock(slot->mu);
    if (slot->closed) {
      lock.unlock();
      delete this;
      return;
    }
    if (status.ok()) {
      grpc::Slice empty;
      grpc::ByteBuffer response(&empty, 1);
      stream.WriteAndFinish(response, grpc::WriteOptions(), status, this);
    } else {
      stream.Finish(status, this);
    }
  }

  GrpcReceiver* receiver;
  CqSlot* slot;
  State state = State::kRequested;
  grpc::GenericServerContext ctx;
  grpc::GenericServerAsyncReaderWriter stream;
  grpc::ByteBuffer request_buf;
  pdata::Signal signal = pdata::Signal::kTraces;
  std::shared_ptr<const pdata::ClientInfo> client;
  bool active = false;   // counted in active_calls_: the message arrived, the answer is not sent
  Call* prev = nullptr;  // CqSlot::reading list, guarded by slot->mu
  Call* next = nullptr;
};

GrpcReceiver::GrpcReceiver(GrpcReceiverOptions opts, Dispatcher& dispatcher, AuthProvider auth)
    : opts_(std::move(opts)), dispatcher_(dispatcher), auth_(std::move(auth)) {}

GrpcReceiver::~GrpcReceiver() {
  stop(std::chrono::steady_clock::now());
  server_.reset();
  cqs_.clear();
}

absl::Status GrpcReceiver::start() {
  if (started_) return absl::FailedPreconditionError("grpc receiver already started");
  started_ = true;

  std::string endpoint = opts_.endpoint;
  if (!endpoint.empty() && endpoint[0] == ':') endpoint = "[::]" + endpoint;  // Go: all addresses
  absl::StatusOr<HostPort> hp = splitHostPort(endpoint);
  if (!hp.ok()) return hp.status();
  if (hp->port != "0") {
    if (absl::Status probe = probeListen(opts_.endpoint, *hp); !probe.ok()) return probe;
  }

  std::shared_ptr<grpc::ServerCredentials> creds =
      opts_.tls ? opts_.tls->credentials() : grpc::InsecureServerCredentials();

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(endpoint, creds, &selected_port);
  service_ = std::make_unique<grpc::AsyncGenericService>();
  builder.RegisterAsyncGenericService(service_.get());
  builder.SetMaxReceiveMessageSize(clampInt(opts_.max_recv_msg_size));
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (opts_.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                               clampInt(static_cast<uint64_t>(opts_.max_concurrent_streams)));
  }
  if (opts_.read_buffer_size > 0) {
    builder.AddChannelArgument(GRPC_ARG_TCP_READ_CHUNK_SIZE, clampInt(opts_.read_buffer_size));
  }
  auto msArg = [&builder](const char* name, std::chrono::milliseconds v) {
    if (v.count() > 0) builder.AddChannelArgument(name, clampInt(static_cast<uint64_t>(v.count())));
  };
  msArg(GRPC_ARG_KEEPALIVE_TIME_MS, opts_.keepalive_time);
  msArg(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, opts_.keepalive_timeout);
  msArg(GRPC_ARG_MAX_CONNECTION_IDLE_MS, opts_.max_connection_idle);
  msArg(GRPC_ARG_MAX_CONNECTION_AGE_MS, opts_.max_connection_age);
  msArg(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, opts_.max_connection_age_grace);
  msArg(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, opts_.min_ping_interval);
  msArg(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, opts_.handshake_timeout);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                             opts_.permit_without_stream ? 1 : 0);
  if (opts_.max_ping_strikes > 0) {
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, opts_.max_ping_strikes);
  }
  if (opts_.max_metadata_size > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, clampInt(opts_.max_metadata_size));
  }
  if (opts_.memory_quota > 0) {
    quota_ = std::make_unique<grpc::ResourceQuota>("telegate-otlp-grpc");
    quota_->Resize(opts_.memory_quota);
    builder.SetResourceQuota(*quota_);
  }

  int threads = opts_.completion_threads;
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  // Two pollers per queue: a dispatch() that takes a while does not stall the queue's other calls.
  int num_cqs = threads >= 2 ? threads / 2 : 1;
  for (int i = 0; i < num_cqs; ++i) {
    auto slot = std::make_unique<CqSlot>();
    slot->cq = builder.AddCompletionQueue();
    cqs_.push_back(std::move(slot));
  }

  server_ = builder.BuildAndStart();
  if (!server_ || selected_port == 0) {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    for (auto& slot : cqs_) {
      slot->closed = true;
      slot->cq->Shutdown();
      void* tag;
      bool ok;
      while (slot->cq->Next(&tag, &ok)) {
      }
    }
    cqs_.clear();
    stopped_ = true;
    return absl::UnavailableError(
        strCat("listen tcp ", opts_.endpoint,
               ": gRPC failed to bind or start the server (see the gRPC log line above)"));
  }
  std::string host = hp->ipv6_literal ? strCat("[", hp->host, "]") : hp->host;
  bound_address_ = strCat(host, ":", selected_port);
  if (opts_.abuse_burst > 0) {
    ConnGuardOptions g;
    g.burst = opts_.abuse_burst;
    g.per_second = opts_.abuse_per_second;
    g.local_port = selected_port;
    guard_ = std::make_unique<ConnGuard>(g);
  }

  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(true);
    for (std::string_view svc : {kTraceService, kMetricsService, kLogsService}) {
      health->SetServingStatus(std::string(svc), true);
    }
  }

  for (auto& slot : cqs_) {
    for (int i = 0; i < kRequestsPerCq; ++i) Call::request(this, slot.get());
  }
  for (int i = 0; i < threads; ++i) {
    CqSlot* slot = cqs_[i % num_cqs].get();
    threads_.emplace_back([slot] {
      void* tag;
      bool ok;
      while (slot->cq->Next(&tag, &ok)) static_cast<Call*>(tag)->proceed(ok);
    });
  }
  opts_.logger.info("Starting GRPC server", {{"endpoint", bound_address_}});
  return absl::OkStatus();
}

void GrpcReceiver::stop(std::chrono::steady_clock::time_point deadline) {
  if (server_ == nullptr || stopped_) return;  // never started, or start() failed
  stopped_ = true;
  stopping_.store(true, std::memory_order_relaxed);
  // A call still waiting for its request message has nothing accepted yet: cancel it now, so a
  // client that sent only HEADERS cannot hold the shutdown until the deadline.
  for (auto& slot : cqs_) {
    std::lock_guard<std::mutex> lock(slot->mu);
    for (Call* c = slot->reading; c != nullptr; c = c->next) c->ctx.TryCancel();
  }
  // Calls whose message arrived are answered (until the deadline at most); then the server shuts
  // down at once, closing every connection, idle or half-open, instead of waiting for clients to
  // hang up. The completion-queue threads keep running meanwhile so that those calls progress.
  while (active_calls_.load(std::memory_order_relaxed) > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  server_->Shutdown(toSystem(std::min(deadline, std::chrono::steady_clock::now())));
  for (auto& slot : cqs_) {
    {
      std::lock_guard<std::mutex> lock(slot->mu);
      slot->closed = true;
    }
    slot->cq->Shutdown();
  }
  // Threads drain the queues (deleting every remaining Call) and exit; a dispatch() still running
  // past the deadline is waited for here.
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  opts_.logger.info("Stopped GRPC server", {{"endpoint", bound_address_}});
}

std::string GrpcReceiver::boundAddress() const {
  return bound_address_;
}

}  // namespace telegate::otelcol::receiver_otlp
