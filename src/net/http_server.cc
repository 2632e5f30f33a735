#include "src/net/http_server.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <exception>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "src/net/http_server_impl.h"

namespace telegate::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

namespace http_internal {

std::string_view shedReasonName(ShedReason r) {
  switch (r) {
    case ShedReason::kUnauthenticated:
      return "unauthenticated";
    case ShedReason::kIdle:
      return "idle";
    case ShedReason::kPerClientLimit:
      return "per_client_limit";
    case ShedReason::kConnectionLimit:
      return "connection_limit";
    case ShedReason::kHeaderTimeout:
      return "header_timeout";
    case ShedReason::kRequestTimeout:
      return "request_timeout";
    case ShedReason::kMinReceiveRate:
      return "min_receive_rate";
    case ShedReason::kIdleTimeout:
      return "idle_timeout";
    case ShedReason::kMemoryLimit:
      return "memory_limit";
    case ShedReason::kCount:
      break;
  }
  return "unknown";
}

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace http_internal

namespace {

using http_internal::Phase;
using http_internal::ShedReason;

std::string endpointString(const tcp::endpoint& ep) {
  return joinHostPort(ep.address().to_string(), ep.port());
}

// Go-style error text: first letter lower-cased ("address already in use").
std::string errorText(const error_code& ec) {
  std::string m = ec.message();
  if (!m.empty() && m[0] >= 'A' && m[0] <= 'Z' && (m.size() < 2 || !(m[1] >= 'A' && m[1] <= 'Z'))) {
    m[0] = static_cast<char>(m[0] - 'A' + 'a');
  }
  return m;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (http_internal::iequals(k, name)) return v;
  }
  return {};
}

HttpResponse HttpResponse::text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

absl::StatusOr<std::pair<std::string, uint16_t>> splitHostPort(std::string_view addr) {
  auto fail = [&](std::string_view why) {
    return absl::InvalidArgumentError("address " + std::string(addr) + ": " + std::string(why));
  };
  std::string_view host;
  std::string_view port;
  if (!addr.empty() && addr[0] == '[') {
    size_t close = addr.find(']');
    if (close == std::string_view::npos) return fail("missing ']' in address");
    host = addr.substr(1, close - 1);
    std::string_view rest = addr.substr(close + 1);
    if (rest.empty()) return fail("missing port in address");
    if (rest[0] != ':') return fail("unexpected characters after ']'");
    port = rest.substr(1);
  } else {
    size_t colon = addr.rfind(':');
    if (colon == std::string_view::npos) return fail("missing port in address");
    host = addr.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return fail("too many colons in address");
    if (host.find_first_of("[]") != std::string_view::npos) return fail("unexpected '[' or ']'");
    port = addr.substr(colon + 1);
  }
  if (port.empty()) return fail("missing port in address");
  unsigned value = 0;
  auto res = std::from_chars(port.data(), port.data() + port.size(), value);
  if (res.ec != std::errc() || res.ptr != port.data() + port.size() || value > 65535) {
    return fail("invalid port \"" + std::string(port) + "\"");
  }
  return std::make_pair(std::string(host), static_cast<uint16_t>(value));
}

std::string joinHostPort(std::string_view host, uint16_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  out.append(":").append(std::to_string(port));
  return out;
}

// ---------------------------------------------------------------------------------------------

HttpServer::Impl::Impl(HttpServerOptions o, HttpHandler h)
    : opts(std::move(o)),
      handler(std::move(h)),
      logger(log::root().with("component", "http_server").with("server", opts.name)),
      ioc(std::max(1, opts.io_threads)),
      accept_strand(asio::make_strand(ioc)),
      accept_retry(accept_strand) {
  if (opts.metrics != nullptr) {
    auto& shed = opts.metrics->counter(
        "telegate_http_server_connections_shed_total",
        "Connections an HTTP server closed on its own to protect itself, by reason.",
        {"server", "reason"});
    for (size_t i = 0; i < shed_counters.size(); ++i) {
      shed_counters[i] =
          &shed.with({opts.name, std::string(shedReasonName(static_cast<ShedReason>(i)))});
    }
    memory_refusals = &opts.metrics
                           ->counter("telegate_http_server_refused_requests_total",
                                     "Requests an HTTP server refused before reading their body, "
                                     "by reason.",
                                     {"server", "reason"})
                           .with({opts.name, "memory_limit"});
  }
  initTlsMetrics();
}

void HttpServer::Impl::countShed(ShedReason r) {
  if (auto* c = shed_counters[static_cast<size_t>(r)]) c->inc();
  if (!shed_log.shouldLog()) return;
  if (r == ShedReason::kMemoryLimit) {
    const MemoryBudget* b = opts.memory_budget;
    logger.warn("closing connections to protect the server (logged once a minute)",
                {{"reason", std::string(shedReasonName(r))},
                 {"used_bytes", std::to_string(b ? b->used() : 0)},
                 {"limit_bytes", std::to_string(b ? b->limit() : 0)}});
    return;
  }
  logger.warn("closing connections to protect the server (logged once a minute)",
              {{"reason", std::string(shedReasonName(r))},
               {"max_connections", std::to_string(opts.max_connections)},
               {"max_connections_per_client", std::to_string(opts.max_connections_per_client)}});
}

void HttpServer::Impl::countMemoryRefusal() {
  if (memory_refusals != nullptr) memory_refusals->inc();
  if (memory_log.shouldLog()) {
    const MemoryBudget* b = opts.memory_budget;
    logger.warn("memory limit reached: refusing request bodies with 429 (logged once a minute)",
                {{"used_bytes", std::to_string(b ? b->used() : 0)},
                 {"limit_bytes", std::to_string(b ? b->limit() : 0)}});
  }
}

std::shared_ptr<Session> HttpServer::Impl::pickVictim(const std::string* source, ShedReason* reason,
                                                      std::vector<std::shared_ptr<Session>>* keep) {
  const std::weak_ptr<Session>* best_unauth = nullptr;
  const std::weak_ptr<Session>* best_idle = nullptr;
  int64_t unauth_since = INT64_MAX, idle_since = INT64_MAX;
  for (const auto& [ptr, weak] : sessions) {
    if (!ptr->counted) continue;
    if (source != nullptr && ptr->source() != *source) continue;
    const Phase ph = ptr->phase.load(std::memory_order_acquire);
    if (ph == Phase::kShed) continue;
    const int64_t since = ptr->since_ns.load(std::memory_order_relaxed);
    if (!ptr->authenticated.load(std::memory_order_acquire)) {
      if (since < unauth_since) {
        best_unauth = &weak;
        unauth_since = since;
      }
    } else if (ph == Phase::kIdle && since < idle_since) {
      best_idle = &weak;
      idle_since = since;
    }
  }
  for (const std::weak_ptr<Session>* cand : {best_unauth, best_idle}) {
    if (cand == nullptr) continue;
    std::shared_ptr<Session> v = cand->lock();
    if (v == nullptr) continue;
    Phase ph = v->phase.load(std::memory_order_acquire);
    const bool unauth = cand == best_unauth;
    // A connection that moved on meanwhile (e.g. passed its header check) is left alone.
    if (ph == Phase::kShed || (!unauth && ph != Phase::kIdle) ||
        (unauth && v->authenticated.load(std::memory_order_acquire)) ||
        !v->phase.compare_exchange_strong(ph, Phase::kShed, std::memory_order_acq_rel)) {
      keep->push_back(std::move(v));  // never the last reference while mu is held
      continue;
    }
    v->counted = false;
    --live;
    if (auto it = per_source.find(v->source()); it != per_source.end() && --it->second == 0) {
      per_source.erase(it);
    }
    *reason = unauth ? ShedReason::kUnauthenticated : ShedReason::kIdle;
    return v;
  }
  return nullptr;
}

void HttpServer::Impl::shed(const std::shared_ptr<Session>& victim, ShedReason reason) {
  countShed(reason);
  asio::post(victim->executor(), [victim] { victim->forceClose(); });
}

bool HttpServer::Impl::admit(const std::shared_ptr<Session>& s) {
  std::shared_ptr<Session> victim;
  std::vector<std::shared_ptr<Session>> keep;  // released after mu
  ShedReason reason = ShedReason::kConnectionLimit;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stopping()) return false;
    if (opts.max_connections_per_client > 0) {
      auto it = per_source.find(s->source());
      if (it != per_source.end() && it->second >= opts.max_connections_per_client) {
        ShedReason ignored;
        victim = pickVictim(&s->source(), &ignored, &keep);
        if (victim == nullptr) {
          countShed(ShedReason::kPerClientLimit);
          return false;
        }
        reason = ShedReason::kPerClientLimit;
      }
    }
    if (victim == nullptr && live >= opts.max_connections) {
      victim = pickVictim(nullptr, &reason, &keep);
      if (victim == nullptr) {
        countShed(ShedReason::kConnectionLimit);
        return false;
      }
    }
    sessions.emplace(s.get(), s);
    ++per_source[s->source()];
    ++live;
  }
  if (victim != nullptr) shed(victim, reason);
  return true;
}

void HttpServer::Impl::unregisterSession(Session* s) {
  std::lock_guard<std::mutex> lock(mu);
  if (sessions.erase(s) == 0) return;
  if (s->counted) {
    s->counted = false;
    --live;
    if (auto it = per_source.find(s->source()); it != per_source.end() && --it->second == 0) {
      per_source.erase(it);
    }
  }
}

absl::Status HttpServer::Impl::start() {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (started) return absl::FailedPreconditionError("http server already started");
    started = true;
  }
  const std::string& addr = opts.listen_addr;
  auto hp = splitHostPort(addr);
  if (!hp.ok())
    return absl::InvalidArgumentError("listen tcp " + std::string(hp.status().message()));
  const auto& [host, port] = *hp;
  auto listenError = [&](const std::string& what) {
    return absl::UnavailableError("listen tcp " + addr + ": " + what);
  };

  std::vector<tcp::endpoint> candidates;
  bool dual_stack = false;
  if (host.empty()) {
    candidates.emplace_back(tcp::v6(), port);
    candidates.emplace_back(tcp::v4(), port);
    dual_stack = true;
  } else {
    error_code ec;
    auto ip = asio::ip::make_address(host, ec);
    if (!ec) {
      candidates.emplace_back(ip, port);
    } else {
      tcp::resolver resolver(ioc);
      auto results = resolver.resolve(host, std::to_string(port), ec);
      if (ec) return listenError("lookup " + host + ": " + errorText(ec));
      for (const auto& r : results) {
        if (r.endpoint().address().is_v4()) candidates.push_back(r.endpoint());
      }
      for (const auto& r : results) {
        if (r.endpoint().address().is_v6()) candidates.push_back(r.endpoint());
      }
      if (candidates.empty()) return listenError("lookup " + host + ": no addresses");
      candidates.resize(1);
    }
  }

  error_code ec;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const tcp::endpoint& ep = candidates[i];
    acceptor.emplace(accept_strand);
    ec = {};
    acceptor->open(ep.protocol(), ec);
    if (ec) {
      acceptor.reset();
      if (dual_stack && i + 1 < candidates.size()) continue;  // no IPv6: fall back to IPv4
      return listenError(errorText(ec));
    }
    acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (dual_stack && ep.address().is_v6()) acceptor->set_option(asio::ip::v6_only(false), ec);
    ec = {};
    acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      acceptor.reset();
      if (dual_stack && i + 1 < candidates.size() && ec != asio::error::address_in_use) continue;
      return listenError(errorText(ec));
    }
    break;
  }
  tcp::endpoint local = acceptor->local_endpoint(ec);
  if (ec) return listenError(errorText(ec));
  {
    std::lock_guard<std::mutex> lock(mu);
    bound = local;
  }

  doAccept();
  int n = std::max(1, opts.io_threads);
  threads.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([this] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          logger.error("http server event loop error", {{"err", e.what()}});
        } catch (...) {
          logger.error("http server event loop error");
        }
      }
    });
  }
  logger.debug("listening", {{"addr", endpointString(local)}});
  return absl::OkStatus();
}

void HttpServer::Impl::doAccept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
    onAccept(ec, std::move(socket));
  });
}

void HttpServer::Impl::onAccept(error_code ec, tcp::socket socket) {
  if (stopping() || ec == asio::error::operation_aborted || !acceptor || !acceptor->is_open()) {
    return;
  }
  if (ec) {
    if (accept_error_log.shouldLog()) logger.warn("accept failed", {{"err", ec.message()}});
    // Out of file descriptors (or socket memory): free one by shedding a connection that may be
    // shed and retry at once; otherwise back off briefly instead of spinning.
    std::chrono::milliseconds retry{50};
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE ||
        ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
      std::shared_ptr<Session> victim;
      std::vector<std::shared_ptr<Session>> keep;  // released after mu
      ShedReason reason = ShedReason::kConnectionLimit;
      {
        std::lock_guard<std::mutex> lock(mu);
        victim = pickVictim(nullptr, &reason, &keep);
      }
      if (victim != nullptr) {
        shed(victim, reason);
        retry = std::chrono::milliseconds(2);
      }
    }
    accept_retry.expires_after(retry);
    accept_retry.async_wait([this](error_code wec) {
      if (wec || stopping()) return;
      doAccept();
    });
    return;
  }
  error_code rec;
  tcp::endpoint remote = socket.remote_endpoint(rec);
  std::string remote_str = rec ? std::string() : endpointString(remote);
  std::string source = rec ? std::string() : remote.address().to_string();
  socket.set_option(tcp::no_delay(true), rec);
  auto session =
      std::make_shared<Session>(this, std::move(socket), std::move(remote_str), std::move(source));
  if (admit(session)) {
    session->run();
  } else {
    session->forceClose();
  }
  doAccept();
}

void HttpServer::Impl::stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu);
  std::vector<std::weak_ptr<Session>> open;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!started || stopped) return;
    stopped = true;
    stopping_flag.store(true, std::memory_order_release);
    for (auto& [ptr, weak] : sessions) open.push_back(weak);
  }
  asio::post(accept_strand, [this] {
    error_code ec;
    accept_retry.cancel();
    if (acceptor) acceptor->close(ec);
  });
  for (auto& weak : open) {
    if (auto s = weak.lock()) {
      asio::post(s->executor(), [s] { s->forceClose(); });
    }
  }
  open.clear();
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  threads.clear();
}

// ---------------------------------------------------------------------------------------------

HttpServer::HttpServer(HttpServerOptions opts, HttpHandler handler)
    : impl_(std::make_shared<Impl>(std::move(opts), std::move(handler))) {}

HttpServer::~HttpServer() {
  stop();
}

absl::Status HttpServer::start() {
  return impl_->start();
}

void HttpServer::stop() {
  impl_->stop();
}

std::string HttpServer::boundAddress() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->bound.port() == 0) return "";
  return endpointString(impl_->bound);
}

uint16_t HttpServer::port() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->bound.port();
}

size_t HttpServer::openConnections() const {
  return impl_->open_connections.load(std::memory_order_relaxed);
}

}  // namespace telegate::net
