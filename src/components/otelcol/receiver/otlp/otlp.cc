#include "src/components/otelcol/receiver/otlp/otlp.h"

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>

#include "src/common/log.h"
#include "src/common/memory_budget.h"
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/otelcol/receiver/otlp/dispatch.h"
#include "src/components/otelcol/receiver/otlp/grpc_receiver.h"
#include "src/components/otelcol/receiver/otlp/grpc_tls.h"
#include "src/components/otelcol/receiver/otlp/http_receiver.h"
#include "src/pdata/otlp_decode.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::receiver_otlp {

std::string_view protocolName(Protocol p) {
  switch (p) {
    case Protocol::kGrpc:
      return "grpc";
    case Protocol::kHttpProtobuf:
      return "http_protobuf";
    case Protocol::kHttpJson:
      return "http_json";
  }
  return "unknown";
}

void GrpcServerBlock::describe(Schema<GrpcServerBlock>& s) {
  s.attr("endpoint", &GrpcServerBlock::endpoint).doc("host:port to listen on");
  s.attr("transport", &GrpcServerBlock::transport);
  s.block("tls", &GrpcServerBlock::tls);
  s.attr("max_recv_msg_size", &GrpcServerBlock::max_recv_msg_size).doc("0 means 4MiB");
  s.attr("max_concurrent_streams", &GrpcServerBlock::max_concurrent_streams)
      .doc("per connection; telegate default 100 (Alloy: unlimited); 0 means unlimited");
  s.attr("read_buffer_size", &GrpcServerBlock::read_buffer_size);
  s.attr("write_buffer_size", &GrpcServerBlock::write_buffer_size);
  s.block("keepalive", &GrpcServerBlock::keepalive)
      .doc(
          "unset durations: telegate defaults (max_connection_idle 10m, max_connection_age 30m, "
          "max_connection_age_grace 30s, enforcement min_time 5m)");
  s.attr("include_metadata", &GrpcServerBlock::include_metadata);
  s.attr("auth", &GrpcServerBlock::auth).doc("an otelcol.auth.* handler");
}

void GrpcTlsServerBlock::describe(Schema<GrpcTlsServerBlock>& s) {
  Docs docs;
  docs.min_version = "gRPC: unset or \"1.2\" (gRPC 1.51 always accepts TLS 1.2 and 1.3)";
  docs.max_version = "gRPC: unset or \"1.3\"";
  docs.cipher_suites = "not supported on gRPC (gRPC 1.51 uses its own suites)";
  docs.curve_preferences = "not supported on gRPC (gRPC 1.51 uses its own curves)";
  describeFields(s, docs);
}

absl::Status GrpcTlsServerBlock::validate() const {
  if (absl::Status st = TlsServerBlock::validate(); !st.ok()) return st;
  return checkGrpcTlsSettings(toSettings());
}

absl::Status GrpcServerBlock::validate() const {
  if (transport != "tcp") {
    return absl::InvalidArgumentError(strCat("unsupported transport \"", transport, "\""));
  }
  if (endpoint.empty()) return absl::InvalidArgumentError("endpoint must not be empty");
  return absl::OkStatus();
}

void HttpServerBlock::describe(Schema<HttpServerBlock>& s) {
  s.attr("endpoint", &HttpServerBlock::endpoint).doc("host:port to listen on");
  s.attr("traces_url_path", &HttpServerBlock::traces_url_path);
  s.attr("metrics_url_path", &HttpServerBlock::metrics_url_path);
  s.attr("logs_url_path", &HttpServerBlock::logs_url_path);
  s.attr("max_request_body_size", &HttpServerBlock::max_request_body_size)
      .doc("0 means 20MiB; applies before and after decompression");
  s.attr("compression_algorithms", &HttpServerBlock::compression_algorithms);
  s.attr("path_prefixes", &HttpServerBlock::path_prefixes)
      .doc("telegate: also accept <prefix><path> for these prefixes");
  s.attr("include_metadata", &HttpServerBlock::include_metadata);
  s.block("tls", &HttpServerBlock::tls);
  s.block("cors", &HttpServerBlock::cors);
  s.attr("auth", &HttpServerBlock::auth).doc("an otelcol.auth.* handler");
  s.attr("read_header_timeout", &HttpServerBlock::read_header_timeout)
      .doc("telegate: time to receive the request line and headers");
  s.attr("read_timeout", &HttpServerBlock::read_timeout)
      .doc("telegate: time to receive a whole request, headers and body; 0 = none");
  s.attr("idle_timeout", &HttpServerBlock::idle_timeout)
      .doc("telegate: keep-alive idle time, and the longest pause while reading a body");
  s.attr("min_receive_rate", &HttpServerBlock::min_receive_rate)
      .doc("telegate: bytes per second a body must average after 5s; 0 = none");
  s.attr("max_connections", &HttpServerBlock::max_connections)
      .doc("telegate: open connections; when full, unauthenticated then idle ones are shed");
  s.attr("max_connections_per_client", &HttpServerBlock::max_connections_per_client)
      .doc("telegate: open connections per client IP; 0 = no limit");
}

absl::Status HttpServerBlock::validate() const {
  for (const auto* p : {&traces_url_path, &metrics_url_path, &logs_url_path}) {
    if (p->empty() || (*p)[0] != '/') {
      return absl::InvalidArgumentError(
          strCat("URL paths must start with \"/\", got \"", *p, "\""));
    }
  }
  for (const auto& p : path_prefixes) {
    if (p.empty() || p[0] != '/' || p.back() == '/') {
      return absl::InvalidArgumentError(strCat(
          "path_prefixes entries must start with \"/\" and not end with one, got \"", p, "\""));
    }
  }
  if (endpoint.empty()) return absl::InvalidArgumentError("endpoint must not be empty");
  if (read_header_timeout.value.count() <= 0) {
    return absl::InvalidArgumentError("read_header_timeout must be greater than 0");
  }
  if (read_timeout.value.count() < 0 || idle_timeout.value.count() < 0) {
    return absl::InvalidArgumentError("read_timeout and idle_timeout must not be negative");
  }
  if (max_connections < 1) return absl::InvalidArgumentError("max_connections must be at least 1");
  if (max_connections_per_client < 0) {
    return absl::InvalidArgumentError("max_connections_per_client must not be negative");
  }
  return absl::OkStatus();
}

void DebugMetricsBlock::describe(Schema<DebugMetricsBlock>& s) {
  s.attr("disable_high_cardinality_metrics", &DebugMetricsBlock::disable_high_cardinality_metrics);
}

void Arguments::describe(Schema<Arguments>& s) {
  s.block("grpc", &Arguments::grpc).doc("serve OTLP/gRPC");
  s.block("http", &Arguments::http).doc("serve OTLP/HTTP");
  s.block("output", &Arguments::output).required();
  s.block("debug_metrics", &Arguments::debug_metrics);
}

namespace {

using Clock = std::chrono::steady_clock;

std::string codeReason(absl::StatusCode c) {
  switch (c) {
    case absl::StatusCode::kInvalidArgument:
      return "malformed";
    case absl::StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kUnimplemented:
      return "no_consumer";
    default:
      return "internal";
  }
}

GrpcReceiverOptions grpcOptions(const GrpcServerBlock& b) {
  GrpcReceiverOptions o;
  o.endpoint = b.endpoint;
  if (b.max_recv_msg_size.bytes != 0) o.max_recv_msg_size = b.max_recv_msg_size.bytes;
  o.max_concurrent_streams = b.max_concurrent_streams;
  o.read_buffer_size = b.read_buffer_size.bytes;
  // Keepalive durations left unset (or 0) keep GrpcReceiverOptions' protective defaults.
  auto set = [](std::chrono::milliseconds& dst, const runtime::Duration& d) {
    if (d.millis().count() > 0) dst = d.millis();
  };
  if (b.keepalive) {
    if (const auto& sp = b.keepalive->server_parameters) {
      set(o.keepalive_time, sp->time);
      set(o.keepalive_timeout, sp->timeout);
      set(o.max_connection_idle, sp->max_connection_idle);
      set(o.max_connection_age, sp->max_connection_age);
      set(o.max_connection_age_grace, sp->max_connection_age_grace);
    }
    if (const auto& ep = b.keepalive->enforcement_policy) {
      set(o.min_ping_interval, ep->min_time);
      o.permit_without_stream = ep->permit_without_stream;
    }
  }
  o.memory_quota = defaultMemoryQuota(globalMemoryBudget().limit());
  return o;
}

HttpReceiverOptions httpOptions(const HttpServerBlock& b) {
  HttpReceiverOptions o;
  o.endpoint = b.endpoint;
  o.traces_path = b.traces_url_path;
  o.metrics_path = b.metrics_url_path;
  o.logs_path = b.logs_url_path;
  o.path_prefixes = b.path_prefixes;
  if (b.max_request_body_size.bytes != 0) o.max_request_body_size = b.max_request_body_size.bytes;
  o.compression_algorithms = b.compression_algorithms;
  o.read_header_timeout = b.read_header_timeout.millis();
  o.read_timeout = b.read_timeout.millis();
  o.idle_timeout = b.idle_timeout.millis();
  o.min_receive_rate = b.min_receive_rate.bytes;
  o.max_connections = static_cast<size_t>(b.max_connections);
  o.max_connections_per_client = static_cast<size_t>(b.max_connections_per_client);
  if (b.cors && !b.cors->allowed_origins.empty()) {
    CorsOptions c;
    c.allowed_origins = b.cors->allowed_origins;
    c.allowed_headers = b.cors->allowed_headers;
    c.max_age = b.cors->max_age;
    o.cors = c;
  }
  return o;
}

bool sameGrpc(const std::optional<GrpcServerBlock>& a, const std::optional<GrpcServerBlock>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  // Everything but `auth` decides how the server listens. The encoding hides secrets (key_pem),
  // so the tls blocks are compared by value as well.
  return syntax::toJson(runtime::encodeObject(runtime::schemaOf<GrpcServerBlock>(), &*a)) ==
             syntax::toJson(runtime::encodeObject(runtime::schemaOf<GrpcServerBlock>(), &*b)) &&
         a->tls == b->tls;
}

bool sameHttp(const std::optional<HttpServerBlock>& a, const std::optional<HttpServerBlock>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  auto strip = [](HttpServerBlock x) {
    x.auth.reset();
    return syntax::toJson(runtime::encodeObject(runtime::schemaOf<HttpServerBlock>(), &x));
  };
  return strip(*a) == strip(*b) && a->tls == b->tls;
}

// The TLS of servers about to start, loaded before anything is stopped (see update()).
struct ServerTls {
  std::shared_ptr<net::tls::TlsServerContext> http;
  std::shared_ptr<GrpcServerTls> grpc;
};

void warnCaFile(const log::Logger& logger, const TlsServerBlock& b, std::string_view server) {
  if (!b.ca_file.empty() || !b.ca_pem.empty()) {
    logger.warn(
        "tls.ca_file and tls.ca_pem have no effect on a server (as in Alloy); set client_ca_file "
        "to verify client certificates",
        {{"server", std::string(server)}});
  }
}

// What a reload can change without restarting a server.
struct LiveConfig {
  std::array<std::vector<std::shared_ptr<Consumer>>, 3> outputs;
  std::shared_ptr<AuthHandler> grpc_auth;
  std::shared_ptr<AuthHandler> http_auth;
};

class Receiver : public runtime::TypedComponent<Arguments>, public Dispatcher {
 public:
  Receiver(runtime::Host& host, const Arguments& args) : host_(host), args_(args) {
    auto& m = host.metrics();
    accepted_ = &m.counter("telegate_receiver_accepted_items_total",
                           "Items (spans, data points, log records) a receiver accepted.",
                           {"component_id", "signal", "protocol", "tenant"});
    refused_items_ = &m.counter("telegate_receiver_refused_items_total",
                                "Items a receiver refused after decoding them, by reason.",
                                {"component_id", "signal", "protocol", "reason"});
    refused_requests_ = &m.counter("telegate_receiver_refused_requests_total",
                                   "Requests a receiver refused, by reason.",
                                   {"component_id", "signal", "protocol", "reason"});
    closed_connections_ = &m.counter(
        "telegate_receiver_closed_connections_total",
        "Connections a receiver closed to protect itself, by reason (grpc: abusive_streams, "
        "streams reset or refused before their request, the HTTP/2 rapid reset pattern).",
        {"component_id", "protocol", "reason"});
    request_bytes_ = &m.histogram(
        "telegate_receiver_request_bytes", "Decoded size of accepted OTLP requests.",
        {"component_id", "signal", "protocol"}, metrics::exponentialBuckets(256, 4, 10));
    latency_ = &m.histogram("telegate_receiver_dispatch_seconds",
                            "Time from a decoded request to the consumers' answer.",
                            {"component_id", "signal", "protocol"},
                            metrics::exponentialBuckets(0.00005, 4, 10));
    // Series for the common case (no tenant) are resolved once, so an accepted request touches
    // only atomics: no family lock, no label vector.
    for (auto sg : {pdata::Signal::kTraces, pdata::Signal::kMetrics, pdata::Signal::kLogs}) {
      for (auto pr : {Protocol::kGrpc, Protocol::kHttpProtobuf, Protocol::kHttpJson}) {
        const std::string sig(pdata::signalName(sg)), proto(protocolName(pr));
        Series& se = series_[static_cast<size_t>(sg)][static_cast<size_t>(pr)];
        se.accepted_no_tenant = &accepted_->with({host.id(), sig, proto, ""});
        se.request_bytes = &request_bytes_->with({host.id(), sig, proto});
        se.latency = &latency_->with({host.id(), sig, proto});
      }
    }
    collector_ = m.addCollector([this](metrics::Writer& w) {
      std::lock_guard<std::mutex> l(servers_mu_);
      if (http_) {
        w.gauge("telegate_receiver_open_connections", "Open connections of a receiver's server.",
                {{"component_id", host_.id()}, {"protocol", "http"}},
                static_cast<double>(http_->openConnections()));
      }
    });
    applyLive(args);
  }

  ~Receiver() override {
    host_.metrics().removeCollector(collector_);
    stopServers(Clock::now());
  }

  absl::Status start() override {
    std::lock_guard<std::mutex> l(servers_mu_);
    return startServers();
  }

  absl::Status update(const Arguments& args) override {
    std::lock_guard<std::mutex> l(servers_mu_);
    bool restart_grpc = !sameGrpc(args.grpc, args_.grpc);
    bool restart_http = !sameHttp(args.http, args_.http);
    // The certificates of servers about to restart are loaded first: when one does not load, the
    // update fails and the running servers keep serving with the previous arguments.
    ServerTls tls;
    if (restart_grpc && args.grpc && args.grpc->tls) {
      auto t = makeGrpcTls(*args.grpc->tls);
      if (!t.ok()) return absl::Status(t.status().code(), strCat("grpc: ", t.status().message()));
      tls.grpc = *std::move(t);
    }
    if (restart_http && args.http && args.http->tls) {
      auto t = makeHttpTls(*args.http->tls);
      if (!t.ok()) return absl::Status(t.status().code(), strCat("http: ", t.status().message()));
      tls.http = *std::move(t);
    }
    applyLive(args);
    args_ = args;
    if (restart_grpc && grpc_) {
      grpc_->stop(Clock::now() + std::chrono::seconds(5));
      grpc_.reset();
    }
    if (restart_http && http_) {
      http_->stop();
      http_.reset();
    }
    return startServers(std::move(tls));
  }

  void shutdown(Clock::time_point deadline) override {
    std::lock_guard<std::mutex> l(servers_mu_);
    stopServers(deadline);
  }

  // Dispatcher
  bool hasSignal(pdata::Signal s) const override {
    return !live_.load()->outputs[static_cast<size_t>(s)].empty();
  }

  absl::Status dispatch(pdata::Signal signal, std::string&& wire,
                        std::shared_ptr<const pdata::ClientInfo> client,
                        Protocol protocol) override {
    auto start = Clock::now();
    auto live = live_.load();
    const auto& outs = live->outputs[static_cast<size_t>(signal)];
    const std::string sig(pdata::signalName(signal));
    const std::string proto(protocolName(protocol));
    if (outs.empty()) {
      countRefused(signal, protocol, "no_consumer");
      return absl::UnimplementedError(strCat("no consumer for ", sig, " is configured"));
    }
    size_t bytes = wire.size();
    auto count = pdata::checkAndCount(signal, wire);
    if (!count.ok()) {
      countRefused(signal, protocol, "malformed");
      logOnce(malformed_log_, "refused a malformed request", count.status());
      return absl::InvalidArgumentError(std::string(count.status().message()));
    }
    if (*count == 0) return absl::OkStatus();
    pdata::Batch batch;
    batch.signal = signal;
    batch.items = *count;
    batch.client = client;
    batch.payload = std::move(wire);
    absl::Status result = absl::OkStatus();
    for (size_t i = 0; i < outs.size(); ++i) {
      absl::Status st;
      if (i + 1 < outs.size()) {
        pdata::Batch copy = batch;
        st = outs[i]->consume(std::move(copy));
      } else {
        st = outs[i]->consume(std::move(batch));
      }
      if (!st.ok() && result.ok()) result = st;
    }
    Series& se = series_[static_cast<size_t>(signal)][static_cast<size_t>(protocol)];
    if (result.ok()) {
      if (client && !client->tenant.empty()) {
        accepted_->with({host_.id(), sig, proto, client->tenant}).inc(static_cast<double>(*count));
      } else {
        se.accepted_no_tenant->inc(static_cast<double>(*count));
      }
      se.request_bytes->observe(static_cast<double>(bytes));
    } else {
      refused_items_->with({host_.id(), sig, proto, codeReason(result.code())})
          .inc(static_cast<double>(*count));
      logOnce(refused_log_, "the pipeline refused a request", result);
    }
    se.latency->observe(std::chrono::duration<double>(Clock::now() - start).count());
    return result;
  }

  void countRefused(pdata::Signal signal, Protocol protocol, std::string_view reason) override {
    refused_requests_
        ->with({host_.id(), std::string(pdata::signalName(signal)),
                std::string(protocolName(protocol)), std::string(reason)})
        .inc();
  }

 private:
  void logOnce(log::OnceEvery& gate, std::string_view msg, const absl::Status& st) {
    if (gate.shouldLog()) {
      host_.logger().warn(msg, {{"err", std::string(st.message())}});
    }
  }

  void applyLive(const Arguments& args) {
    auto live = std::make_shared<LiveConfig>();
    auto fill = [](std::vector<std::shared_ptr<Consumer>>& dst,
                   const std::vector<runtime::CapsuleRef<Consumer>>& src) {
      for (const auto& c : src) dst.push_back(c.ptr);
    };
    fill(live->outputs[static_cast<size_t>(pdata::Signal::kTraces)], args.output.traces);
    fill(live->outputs[static_cast<size_t>(pdata::Signal::kMetrics)], args.output.metrics);
    fill(live->outputs[static_cast<size_t>(pdata::Signal::kLogs)], args.output.logs);
    if (args.grpc && args.grpc->auth) live->grpc_auth = args.grpc->auth->ptr;
    if (args.http && args.http->auth) live->http_auth = args.http->auth->ptr;
    live_.store(std::move(live));
  }

  absl::StatusOr<std::shared_ptr<GrpcServerTls>> makeGrpcTls(const GrpcTlsServerBlock& b) {
    std::string server = strCat(host_.id(), "/grpc");
    warnCaFile(host_.logger(), b, server);
    auto t = GrpcServerTls::create(b.toSettings(), server, host_.logger(), &host_.metrics());
    if (!t.ok()) return t.status();
    return std::shared_ptr<GrpcServerTls>(*std::move(t));
  }

  absl::StatusOr<std::shared_ptr<net::tls::TlsServerContext>> makeHttpTls(const TlsServerBlock& b) {
    std::string server = strCat(host_.id(), "/http");
    warnCaFile(host_.logger(), b, server);
    net::tls::TlsServerSettings settings = b.toSettings();
    settings.alpn = {"http/1.1"};
    return net::tls::TlsServerContext::create(std::move(settings), server, &host_.metrics());
  }

  // Starts the servers that are configured but not running, with `tls` when it was loaded
  // already. servers_mu_ held.
  absl::Status startServers(ServerTls tls = {}) {
    std::vector<std::string> errors;
    if (args_.grpc && !grpc_ && args_.grpc->tls && !tls.grpc) {
      auto t = makeGrpcTls(*args_.grpc->tls);
      if (t.ok()) {
        tls.grpc = *std::move(t);
      } else {
        errors.push_back(strCat("grpc: ", t.status().message()));
      }
    }
    if (args_.http && !http_ && args_.http->tls && !tls.http) {
      auto t = makeHttpTls(*args_.http->tls);
      if (t.ok()) {
        tls.http = *std::move(t);
      } else {
        errors.push_back(strCat("http: ", t.status().message()));
      }
    }
    if (args_.grpc && !grpc_ && (!args_.grpc->tls || tls.grpc)) {
      GrpcReceiverOptions opts = grpcOptions(*args_.grpc);
      opts.tls = std::move(tls.grpc);
      opts.logger = host_.logger();
      metrics::Counter* closed =
          &closed_connections_->with({host_.id(), "grpc", "abusive_streams"});
      opts.on_connection_closed = [closed] { closed->inc(); };
      auto g = std::make_unique<GrpcReceiver>(std::move(opts), *this,
                                              [this] { return live_.load()->grpc_auth; });
      if (auto st = g->start(); !st.ok()) {
        errors.push_back(strCat("grpc: ", st.message()));
      } else {
        host_.logger().info("OTLP/gRPC server listening",
                            {{"addr", g->boundAddress()}, {"tls", args_.grpc->tls ? "on" : "off"}});
        grpc_ = std::move(g);
      }
    }
    if (args_.http && !http_ && (!args_.http->tls || tls.http)) {
      HttpReceiverOptions ho = httpOptions(*args_.http);
      ho.tls = std::move(tls.http);
      ho.server_name = host_.id();  // the `server` label of its connection metrics
      auto h = std::make_unique<HttpReceiver>(std::move(ho), *this,
                                              [this] { return live_.load()->http_auth; });
      if (auto st = h->start(); !st.ok()) {
        errors.push_back(strCat("http: ", st.message()));
      } else {
        host_.logger().info("OTLP/HTTP server listening",
                            {{"addr", h->boundAddress()}, {"tls", args_.http->tls ? "on" : "off"}});
        http_ = std::move(h);
      }
    }
    if (!errors.empty()) {
      std::string msg = strJoin(errors, "; ");
      host_.setHealth(runtime::HealthState::kUnhealthy, msg);
      return absl::UnavailableError(msg);
    }
    host_.setHealth(runtime::HealthState::kHealthy, "listening");
    return absl::OkStatus();
  }

  void stopServers(Clock::time_point deadline) {
    if (http_) {
      http_->stop();
      http_.reset();
    }
    if (grpc_) {
      grpc_->stop(deadline);
      grpc_.reset();
    }
  }

  runtime::Host& host_;
  std::mutex servers_mu_;
  Arguments args_;
  std::unique_ptr<GrpcReceiver> grpc_;
  std::unique_ptr<HttpReceiver> http_;
  std::atomic<std::shared_ptr<const LiveConfig>> live_;
  metrics::Family<metrics::Counter>* accepted_;
  metrics::Family<metrics::Counter>* refused_items_;
  metrics::Family<metrics::Counter>* refused_requests_;
  metrics::Family<metrics::Counter>* closed_connections_;
  metrics::Family<metrics::Histogram>* request_bytes_;
  metrics::Family<metrics::Histogram>* latency_;
  struct Series {
    metrics::Counter* accepted_no_tenant = nullptr;
    metrics::Histogram* request_bytes = nullptr;
    metrics::Histogram* latency = nullptr;
  };
  std::array<std::array<Series, 3>, 3> series_{};  // [signal][protocol]
  uint64_t collector_ = 0;
  log::OnceEvery malformed_log_{std::chrono::seconds(60)};
  log::OnceEvery refused_log_{std::chrono::seconds(60)};
};

}  // namespace

}  // namespace telegate::otelcol::receiver_otlp

namespace telegate::components {
void registerOtelcolReceiverOtlp() {
  runtime::registerComponent<otelcol::receiver_otlp::Receiver>(
      "otelcol.receiver.otlp", "Receives OTLP logs, metrics and traces over gRPC and HTTP.", {});
}
}  // namespace telegate::components
