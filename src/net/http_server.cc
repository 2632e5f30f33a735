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

#include "src/common/log.h"

namespace telegate::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::chrono::milliseconds kLingerTime{500};
constexpr size_t kLingerMaxBytes = 4u << 20;

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

std::string httpDate() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t now = time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  char buf[64];
  snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
           tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
           tm.tm_sec);
  return buf;
}

bool hasCrLf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

bool isManagedHeader(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "connection") ||
         iequals(name, "transfer-encoding") || iequals(name, "date") ||
         iequals(name, "content-type");
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
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

class Session;

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions o, HttpHandler h)
      : opts(std::move(o)),
        handler(std::move(h)),
        logger(log::root().with("component", "http_server")),
        ioc(std::max(1, opts.io_threads)),
        accept_strand(asio::make_strand(ioc)),
        accept_retry(accept_strand) {}

  absl::Status start();
  void stop();
  void doAccept();
  void onAccept(error_code ec, tcp::socket socket);

  // Registers a new session unless stopping. Called on an I/O thread.
  bool registerSession(Session* s, const std::shared_ptr<Session>& sp);
  void unregisterSession(Session* s);
  bool stopping() const { return stopping_flag.load(std::memory_order_acquire); }

  const HttpServerOptions opts;
  const HttpHandler handler;
  const log::Logger logger;
  log::OnceEvery conn_limit_log{std::chrono::seconds(60)};
  log::OnceEvery accept_error_log{std::chrono::seconds(60)};

  std::mutex mu;  // guards the fields below
  bool started = false;
  bool stopped = false;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  tcp::endpoint bound;

  std::atomic<bool> stopping_flag{false};
  std::atomic<size_t> open_connections{0};
  std::mutex stop_mu;  // serialises stop()

  // Declared last: destroyed first, so pending handlers (and the sessions they own) go away
  // while the members above are still alive.
  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> accept_strand;
  std::optional<tcp::acceptor> acceptor;  // used on accept_strand after start()
  asio::steady_timer accept_retry;
  std::vector<std::thread> threads;
};

// One TCP connection. All member functions run on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::Impl* srv, tcp::socket socket, std::string remote)
      : srv_(srv), stream_(std::move(socket)), remote_(std::move(remote)) {
    srv_->open_connections.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() {
    srv_->unregisterSession(this);
    srv_->open_connections.fetch_sub(1, std::memory_order_relaxed);
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

  void run() {
    asio::dispatch(executor(), [self = shared_from_this()] { self->readRequest(); });
  }

  // Called (via post) from stop().
  void forceClose() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  void setTimeout(std::chrono::milliseconds d) {
    if (d.count() > 0) {
      stream_.expires_after(d);
    } else {
      stream_.expires_never();
    }
  }

  void close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  void readRequest() {
    if (srv_->stopping()) return close();
    if (first_request_ || buffer_.size() > 0) return readHeader();
    // Keep-alive: wait (idle_timeout) for the first byte of the next request.
    setTimeout(srv_->opts.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->readHeader();
                            });
  }

  void readHeader() {
    first_request_ = false;
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<size_t>(srv_->opts.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<std::uint64_t>(srv_->opts.max_body_bytes));
    setTimeout(srv_->opts.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, size_t) { self->onHeader(ec); });
  }

  // Errors that mean the peer went away or a timeout fired: close without a response.
  static bool isQuietError(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == http::error::partial_message ||
           ec == beast::error::timeout || ec == asio::error::eof ||
           ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor;
  }

  void onReadError(const error_code& ec) {
    if (ec == http::error::body_limit) {
      return sendError(413, "request body too large\n");
    }
    if (ec == http::error::header_limit) {
      return sendError(431, "request header fields too large\n");
    }
    if (isQuietError(ec)) {
      if (ec == beast::error::timeout) {
        srv_->logger.debug("closing connection: read timeout", {{"remote_addr", remote_}});
      }
      return close();
    }
    srv_->logger.debug("malformed request", {{"remote_addr", remote_}, {"err", ec.message()}});
    sendError(400, "malformed HTTP request\n");
  }

  // Fills req_ from the parsed header (everything but the body).
  void buildRequestHead() {
    const auto& msg = parser_->get();
    req_ = HttpRequest{};
    req_.method = std::string(msg.method_string());
    req_.target = std::string(msg.target());
    req_.version = static_cast<int>(msg.version());
    std::string_view path_and_query = req_.target;
    // absolute-form: "http://host/path?q"
    if (size_t scheme = path_and_query.find("://");
        scheme != std::string_view::npos && path_and_query[0] != '/') {
      size_t slash = path_and_query.find('/', scheme + 3);
      path_and_query =
          slash == std::string_view::npos ? std::string_view("/") : path_and_query.substr(slash);
    }
    size_t q = path_and_query.find('?');
    req_.path = std::string(path_and_query.substr(0, q));
    if (q != std::string_view::npos) req_.query = std::string(path_and_query.substr(q + 1));
    req_.headers.reserve(static_cast<size_t>(std::distance(msg.begin(), msg.end())));
    for (const auto& f : msg) {
      req_.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    req_.remote_addr = remote_;
  }

  // Runs the header_check. Returns false when the request was refused (the response is on its
  // way and the connection will be closed or kept as the contract says).
  bool judgeHeader() {
    if (!srv_->opts.header_check) return true;
    HeaderDecision d;
    try {
      d = srv_->opts.header_check(req_);
    } catch (const std::exception& e) {
      srv_->logger.error("http header check threw",
                         {{"path", req_.path}, {"remote_addr", remote_}, {"err", e.what()}});
      d = HeaderDecision::refuse(HttpResponse::text(500, "internal server error\n"));
    } catch (...) {
      srv_->logger.error("http header check threw",
                         {{"path", req_.path}, {"remote_addr", remote_}});
      d = HeaderDecision::refuse(HttpResponse::text(500, "internal server error\n"));
    }
    if (d.refusal) {
      const auto& msg = parser_->get();
      // No body announced: the connection may stay open as the client asked.
      const bool keep_alive = parser_->is_done() && msg.keep_alive();
      const unsigned version = msg.version();
      const bool head = msg.method() == http::verb::head;
      parser_.reset();
      req_ = HttpRequest{};
      sendResponse(std::move(*d.refusal), version, keep_alive, head);
      return false;
    }
    req_.state = std::move(d.state);
    return true;
  }

  void onHeader(error_code ec) {
    if (ec) return onReadError(ec);
    buildRequestHead();
    if (!judgeHeader()) return;
    if (parser_->is_done()) return dispatchRequest();

    const auto& req = parser_->get();
    body_deadline_ = srv_->opts.read_timeout.count() > 0 ? Clock::now() + srv_->opts.read_timeout
                                                         : Clock::time_point::max();
    auto expect = req[http::field::expect];
    if (req.version() >= 11 &&
        iequals(std::string_view(expect.data(), expect.size()), "100-continue")) {
      setTimeout(srv_->opts.idle_timeout);
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](error_code ec, size_t) {
                          if (ec) return self->close();
                          self->readBody();
                        });
      return;
    }
    readBody();
  }

  void readBody() {
    if (srv_->stopping()) return close();
    auto idle = srv_->opts.idle_timeout;
    Clock::time_point deadline = body_deadline_;
    if (idle.count() > 0) deadline = std::min(deadline, Clock::now() + idle);
    if (deadline == Clock::time_point::max()) {
      stream_.expires_never();
    } else {
      stream_.expires_at(deadline);
    }
    http::async_read_some(stream_, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, size_t) {
                            if (ec) return self->onReadError(ec);
                            if (self->parser_->is_done()) return self->dispatchRequest();
                            self->readBody();
                          });
  }

  void dispatchRequest() {
    auto msg = parser_->release();
    parser_.reset();
    HttpRequest req = std::move(req_);
    req_ = HttpRequest{};
    req.body = std::move(msg.body());

    const bool keep_alive = msg.keep_alive();
    const bool head = msg.method() == http::verb::head;

    HttpResponse resp;
    try {
      resp = srv_->handler(req);
    } catch (const std::exception& e) {
      srv_->logger.error("http handler threw",
                         {{"path", req.path}, {"remote_addr", remote_}, {"err", e.what()}});
      resp = HttpResponse::text(500, "internal server error\n");
    } catch (...) {
      srv_->logger.error("http handler threw", {{"path", req.path}, {"remote_addr", remote_}});
      resp = HttpResponse::text(500, "internal server error\n");
    }
    sendResponse(std::move(resp), msg.version(), keep_alive, head);
  }

  void sendError(int status, std::string body) {
    sendResponse(HttpResponse::text(status, std::move(body)), 11, /*keep_alive=*/false,
                 /*head=*/false);
  }

  void sendResponse(HttpResponse hr, unsigned version, bool keep_alive, bool head) {
    if (hr.status < 100 || hr.status > 999) {
      srv_->logger.error("http handler returned an invalid status",
                         {{"status", std::to_string(hr.status)}});
      hr = HttpResponse::text(500, "internal server error\n");
    }
    keep_alive = keep_alive && !srv_->stopping();
    close_after_write_ = !keep_alive;

    res_ = {};
    res_.version(version == 10 ? 10 : 11);
    res_.result(static_cast<unsigned>(hr.status));
    if (http::int_to_status(static_cast<unsigned>(hr.status)) == http::status::unknown) {
      res_.reason("Unknown");
    }
    res_.set(http::field::date, httpDate());
    const bool no_body = hr.status / 100 == 1 || hr.status == 204 || hr.status == 304;
    if (!hr.content_type.empty() && !no_body && !hasCrLf(hr.content_type)) {
      res_.set(http::field::content_type, hr.content_type);
    }
    for (const auto& [k, v] : hr.headers) {
      if (k.empty() || isManagedHeader(k) || hasCrLf(k) || hasCrLf(v) ||
          k.find_first_of(" :\t") != std::string::npos) {
        continue;
      }
      res_.insert(k, v);
    }
    if (keep_alive) {
      if (res_.version() == 10) res_.set(http::field::connection, "keep-alive");
    } else {
      res_.set(http::field::connection, "close");
    }
    if (!no_body) {
      res_.content_length(hr.body.size());
      if (!head) res_.body() = std::move(hr.body);
    }

    setTimeout(srv_->opts.idle_timeout);
    http::async_write(stream_, res_,
                      [self = shared_from_this()](error_code ec, size_t) { self->onWrite(ec); });
  }

  void onWrite(error_code ec) {
    if (ec) return close();
    res_ = {};
    if (close_after_write_) return lingeringClose();
    readRequest();
  }

  // Half-closes and drains what the client is still sending for a short while, so that it reads
  // our final response instead of getting a reset.
  void lingeringClose() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec || srv_->stopping()) return close();
    stream_.expires_after(kLingerTime);
    drain();
  }

  void drain() {
    stream_.async_read_some(
        asio::buffer(drain_buf_), [self = shared_from_this()](error_code ec, size_t n) {
          self->drained_ += n;
          if (ec || self->drained_ > kLingerMaxBytes || self->srv_->stopping()) {
            return self->close();
          }
          self->drain();
        });
  }

  HttpServer::Impl* const srv_;
  beast::tcp_stream stream_;
  const std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest req_;  // the request being read, without its body
  http::response<http::string_body> res_;
  bool first_request_ = true;
  bool close_after_write_ = false;
  Clock::time_point body_deadline_;
  std::array<char, 16384> drain_buf_;
  size_t drained_ = 0;
};

// ---------------------------------------------------------------------------------------------

bool HttpServer::Impl::registerSession(Session* s, const std::shared_ptr<Session>& sp) {
  std::lock_guard<std::mutex> lock(mu);
  if (stopping()) return false;
  sessions.emplace(s, sp);
  return true;
}

void HttpServer::Impl::unregisterSession(Session* s) {
  std::lock_guard<std::mutex> lock(mu);
  sessions.erase(s);
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
    // E.g. EMFILE: back off briefly instead of spinning.
    if (accept_error_log.shouldLog()) logger.warn("accept failed", {{"err", ec.message()}});
    accept_retry.expires_after(std::chrono::milliseconds(50));
    accept_retry.async_wait([this](error_code wec) {
      if (wec || stopping()) return;
      doAccept();
    });
    return;
  }
  if (open_connections.load(std::memory_order_relaxed) >= opts.max_connections) {
    if (conn_limit_log.shouldLog()) {
      logger.warn("connection limit reached; closing new connections",
                  {{"max_connections", std::to_string(opts.max_connections)}});
    }
    error_code ignored;
    socket.close(ignored);
    return doAccept();
  }
  error_code rec;
  tcp::endpoint remote = socket.remote_endpoint(rec);
  std::string remote_str = rec ? std::string() : endpointString(remote);
  socket.set_option(tcp::no_delay(true), rec);
  auto session = std::make_shared<Session>(this, std::move(socket), std::move(remote_str));
  if (registerSession(session.get(), session)) session->run();
  doAccept();
}

void HttpServer::Impl::stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu);
  std::vector<std::weak_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!started || stopped) return;
    stopped = true;
    stopping_flag.store(true, std::memory_order_release);
    for (auto& [ptr, weak] : sessions) live.push_back(weak);
  }
  asio::post(accept_strand, [this] {
    error_code ec;
    accept_retry.cancel();
    if (acceptor) acceptor->close(ec);
  });
  for (auto& weak : live) {
    if (auto s = weak.lock()) {
      asio::post(s->executor(), [s] { s->forceClose(); });
    }
  }
  live.clear();
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
