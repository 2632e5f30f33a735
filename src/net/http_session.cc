// One connection of net::HttpServer: reading, judging and charging requests, deadlines, responses.
// See http_server.h for the contract and http_server_impl.h for the threading.
#include <time.h>

#include <algorithm>
#include <exception>
#include <iterator>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include "src/net/http_server_impl.h"

namespace telegate::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;
using http_internal::iequals;
using http_internal::Phase;
using http_internal::ShedReason;
using Clock = http_internal::Clock;

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::chrono::milliseconds kLingerTime{500};
constexpr size_t kLingerMaxBytes = 4u << 20;
// What one body read can add at most (Beast reads up to 64 KiB at a time).
constexpr size_t kReadChunk = 65536;
// Request heads: the first kHeadAllowance bytes a connection holds for its head (read buffer
// capacity plus what the parser took out of it) are not charged to the memory budget, so a
// normal request (its head fits, and the keep-alive read below uses no more) costs no atomic
// operation on the budget. Beyond it every byte is reserved before the read that may fill it.
constexpr size_t kHeadAllowance = 4096;
// The smallest room a head read is given (what Beast's own reads use).
constexpr size_t kMinHeadRead = 512;

// Lingering closes discard what they read; the bytes are never looked at, so one buffer serves
// every connection.
char g_drain_buf[16384];

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

// Errors that mean the peer went away or a timeout fired: close without a response.
bool isQuietError(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message ||
         ec == beast::error::timeout || ec == asio::error::eof ||
         ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor ||
         ec == asio::ssl::error::stream_truncated;
}

template <typename D>
Clock::time_point after(Clock::time_point start, D d) {
  return d.count() > 0 ? start + d : Clock::time_point::max();
}

}  // namespace

Session::Session(HttpServer::Impl* srv, tcp::socket socket, std::string remote, std::string source)
    : since_ns(http_internal::nowNs()),
      srv_(srv),
      stream_(std::move(socket)),
      remote_(std::move(remote)),
      source_(std::move(source)),
      req_start_(Clock::now()) {
  srv_->open_connections.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() {
  releaseCharge();
  if (head_charged_ > 0 && srv_->opts.memory_budget != nullptr) {
    srv_->opts.memory_budget->release(head_charged_);
  }
  if (tls_charged_ > 0) srv_->opts.memory_budget->release(tls_charged_);
  srv_->unregisterSession(this);
  srv_->open_connections.fetch_sub(1, std::memory_order_relaxed);
}

void Session::run() {
  asio::dispatch(executor(), [self = shared_from_this()] {
    self->srv_->opts.tls ? self->startTls() : self->readRequest();
  });
}

void Session::forceClose() {
  close();
}

// Moves to `to` unless the table chose this connection to be shed; then closes and returns false.
bool Session::enterPhase(Phase to) {
  Phase cur = phase.load(std::memory_order_acquire);
  do {
    if (cur == Phase::kShed) {
      close();
      return false;
    }
  } while (!phase.compare_exchange_weak(cur, to, std::memory_order_acq_rel));
  since_ns.store(http_internal::nowNs(), std::memory_order_relaxed);
  return true;
}

// The parser stays: a cancelled read may still refer to it until its handler has run. Its body
// goes with the session, which ends as soon as the pending handlers have run.
void Session::close() {
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
  releaseCharge();
}

void Session::releaseCharge() {
  if (charged_ > 0 && srv_->opts.memory_budget != nullptr) {
    srv_->opts.memory_budget->release(charged_);
  }
  charged_ = 0;
}

void Session::setDeadline(Clock::time_point at, ShedReason reason) {
  if (at == Clock::time_point::max()) {
    stream_.expires_never();
    expiry_reason_.reset();
  } else {
    stream_.expires_at(at);
    expiry_reason_ = reason;
  }
}

void Session::readRequest() {
  if (srv_->stopping()) return close();
  if (first_request_ || buffer_.size() > 0) {
    if (!first_request_) req_start_ = Clock::now();
    if (!enterPhase(Phase::kHeader)) return;
    return readHeader();
  }
  // Keep-alive: wait (idle_timeout) for the first byte of the next request.
  if (!enterPhase(Phase::kIdle)) return;
  if (srv_->opts.idle_timeout.count() > 0) {
    stream_.expires_after(srv_->opts.idle_timeout);
  } else {
    stream_.expires_never();
  }
  expiry_reason_.reset();  // staying idle is not a fault
  stream_.async_read_some(buffer_.prepare(kHeadAllowance),
                          [self = shared_from_this()](error_code ec, size_t n) {
                            if (ec) return self->close();
                            self->buffer_.commit(n);
                            self->req_start_ = Clock::now();
                            if (!self->enterPhase(Phase::kHeader)) return;
                            self->readHeader();
                          });
}

void Session::readHeader() {
  first_request_ = false;
  parser_.emplace();
  parser_->header_limit(
      static_cast<std::uint32_t>(std::min<size_t>(srv_->opts.max_header_bytes, UINT32_MAX)));
  parser_->body_limit(static_cast<std::uint64_t>(srv_->opts.max_body_bytes));
  const auto& o = srv_->opts;
  Clock::time_point header_end = after(req_start_, o.header_timeout);
  Clock::time_point request_end = after(req_start_, o.read_timeout);
  if (request_end < header_end) {
    setDeadline(request_end, ShedReason::kRequestTimeout);
  } else {
    setDeadline(header_end, ShedReason::kHeaderTimeout);
  }
  head_parsed_ = 0;
  parseHeader();
}

// Feeds what is buffered to the parser and, while the head is incomplete, reads more. Before a
// read that needs a larger buffer the growth is reserved in the budget; a refusal sheds the
// connection. (Beast's own header read loops inside one operation, so it cannot be charged.)
void Session::parseHeader() {
  if (buffer_.size() > 0) {
    error_code ec;
    const size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec && ec != http::error::need_more) return onHeader(ec);
    if (parser_->is_header_done()) return onHeader({});
    head_parsed_ += used;  // the request line, now held by the parser
  }
  const size_t size = buffer_.size();
  size_t capacity = buffer_.capacity();
  const bool grow = capacity - size < kMinHeadRead;
  if (grow) {
    // Doubling, up to what the header limit can use: the parser fails the head once it has
    // header_limit unparsed bytes, so size < max_header_bytes here.
    capacity = std::max(std::min(2 * capacity, srv_->opts.max_header_bytes + kMinHeadRead),
                        size + kMinHeadRead);
  }
  if (!chargeHead(capacity + head_parsed_)) return shedForHeaderMemory();
  if (grow) {
    // Exactly `capacity` (flat_buffer alone may allocate up to twice its size), then the
    // buffer's own cap again for Beast's body reads.
    const size_t max = buffer_.max_size();
    buffer_.max_size(capacity);
    buffer_.reserve(capacity);
    buffer_.max_size(max);
  }
  const size_t room = std::min(buffer_.capacity() - size, kReadChunk);
  stream_.async_read_some(buffer_.prepare(room), [self = shared_from_this()](error_code ec,
                                                                             size_t n) {
    self->buffer_.commit(n);
    if (ec == asio::error::eof) {
      ec = self->parser_->got_some() ? http::error::partial_message : http::error::end_of_stream;
    }
    if (ec) return self->onHeader(ec);
    self->parseHeader();
  });
}

// Makes the head charge cover `held` bytes (beyond the allowance). False: the budget refused.
bool Session::chargeHead(size_t held) {
  if (held <= kHeadAllowance + head_charged_) return true;
  MemoryBudget* budget = srv_->opts.memory_budget;
  if (budget == nullptr) return true;
  const size_t want = held - kHeadAllowance;
  if (!budget->tryReserve(want - head_charged_)) return false;
  head_charged_ = want;
  return true;
}

// The head has been dealt with (dispatched, refused or failed): gives back a read buffer that
// grew past the allowance and the head charge with it. What the buffer still holds (pipelined
// bytes of the next request) stays charged.
void Session::settleHeadCharge() {
  if (buffer_.capacity() > kHeadAllowance) buffer_.shrink_to_fit();
  const size_t keep = buffer_.capacity() > kHeadAllowance ? buffer_.capacity() - kHeadAllowance : 0;
  if (head_charged_ > keep) {
    srv_->opts.memory_budget->release(head_charged_ - keep);
    head_charged_ = keep;
  }
}

// The budget refused a head's growth: 429 and close, without holding anything more.
void Session::shedForHeaderMemory() {
  srv_->countShed(ShedReason::kMemoryLimit);
  srv_->logger.debug("closing connection: request header over the memory limit",
                     {{"remote_addr", remote_}});
  parser_.reset();
  req_ = HttpRequest{};
  buffer_.consume(buffer_.size());
  HttpResponse r = HttpResponse::text(429, "memory limit reached, retry later\n");
  r.headers.emplace_back("Retry-After", std::to_string(srv_->opts.retry_after_seconds));
  sendResponse(std::move(r), 11, /*keep_alive=*/false, /*head=*/false);
}

void Session::onReadError(const error_code& ec) {
  if (ec == http::error::body_limit) {
    return sendError(413, "request body too large\n");
  }
  if (ec == http::error::header_limit) {
    return sendError(431, "request header fields too large\n");
  }
  if (isQuietError(ec)) {
    if (ec == beast::error::timeout && expiry_reason_) {
      srv_->countShed(*expiry_reason_);
      srv_->logger.debug(
          "closing connection: deadline",
          {{"remote_addr", remote_}, {"reason", std::string(shedReasonName(*expiry_reason_))}});
    }
    return close();
  }
  srv_->logger.debug("malformed request", {{"remote_addr", remote_}, {"err", ec.message()}});
  sendError(400, "malformed HTTP request\n");
}

// Fills req_ from the parsed header (everything but the body).
void Session::buildRequestHead() {
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
  req_.tls = stream_.tls();
  req_.peer = peer_;
}

// Runs the header_check. Returns false when the request was refused (the response is on its way
// and the connection will be closed or kept as the contract says).
bool Session::judgeHeader() {
  HeaderDecision d;
  if (srv_->opts.header_check) {
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
  if (d.authenticated) authenticated.store(true, std::memory_order_release);
  if (!enterPhase(Phase::kActive)) return false;
  req_.state = std::move(d.state);
  return true;
}

// Reserves budget for the body bytes the next read may add. False: refused (429 on its way).
bool Session::chargeBody() {
  MemoryBudget* budget = srv_->opts.memory_budget;
  if (budget == nullptr) return true;
  std::string& body = parser_->get().body();
  size_t want;
  if (auto cl = parser_->content_length()) {
    want = static_cast<size_t>(*cl);  // reserved exactly by the body reader
  } else {
    const size_t need = body.size() + buffer_.size() + kReadChunk;
    if (need <= charged_) return true;
    want = std::max(need, 2 * charged_);
    want = std::min(want, srv_->opts.max_body_bytes + kReadChunk);
    if (want < need) want = need;
  }
  if (want <= charged_) return true;
  if (!budget->tryReserve(want - charged_)) {
    sendMemoryRefusal();
    return false;
  }
  charged_ = want;
  if (!parser_->content_length()) body.reserve(want);
  return true;
}

// A body larger than the head's read buffer is read in pieces of up to kReadChunk instead of the
// buffer's few KiB (a 1 MB body: 16 reads rather than 250). The growth beyond the connection's
// uncharged allowance is charged with the body and given back with it; when the budget has no
// room the small buffer is kept.
void Session::growBodyReads() {
  const auto cl = parser_->content_length();
  if (!cl) return;
  const size_t want = static_cast<size_t>(std::min<std::uint64_t>(*cl, kReadChunk));
  const size_t capacity = buffer_.capacity();
  if (want <= capacity) return;
  // Like the head's, the first kHeadAllowance bytes of a connection's buffer are not charged.
  const size_t free_up_to = std::max(capacity, kHeadAllowance);
  if (MemoryBudget* budget = srv_->opts.memory_budget; budget != nullptr && want > free_up_to) {
    if (!budget->tryReserve(want - free_up_to)) return;
    charged_ += want - free_up_to;
  }
  const size_t max = buffer_.max_size();  // exactly `want`, as parseHeader() does
  buffer_.max_size(want);
  buffer_.reserve(want);
  buffer_.max_size(max);
}

void Session::onHeader(error_code ec) {
  if (ec) return onReadError(ec);
  buildRequestHead();
  if (!judgeHeader()) return;
  if (parser_->is_done()) return dispatchRequest();
  if (!chargeBody()) return;
  growBodyReads();

  body_start_ = Clock::now();
  const auto& req = parser_->get();
  auto expect = req[http::field::expect];
  if (req.version() >= 11 &&
      iequals(std::string_view(expect.data(), expect.size()), "100-continue")) {
    setDeadline(std::min(after(req_start_, srv_->opts.read_timeout),
                         after(Clock::now(), srv_->opts.idle_timeout)),
                ShedReason::kRequestTimeout);
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) return self->close();
                        self->readBody();
                      });
    return;
  }
  readBody();
}

void Session::readBody() {
  if (srv_->stopping()) return close();
  if (!parser_->content_length() && !chargeBody()) return;
  const auto& o = srv_->opts;
  const Clock::time_point now = Clock::now();
  Clock::time_point deadline = after(req_start_, o.read_timeout);
  ShedReason reason = ShedReason::kRequestTimeout;
  if (Clock::time_point idle = after(now, o.idle_timeout); idle < deadline) {
    deadline = idle;
    reason = ShedReason::kIdleTimeout;
  }
  if (o.min_receive_rate > 0) {
    // By then the body must have come at min_receive_rate on average (and never before grace).
    const double secs =
        static_cast<double>(parser_->get().body().size()) / static_cast<double>(o.min_receive_rate);
    Clock::time_point due =
        body_start_ +
        std::max<Clock::duration>(o.min_rate_grace, std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(secs)));
    if (due < deadline) {
      deadline = due;
      reason = ShedReason::kMinReceiveRate;
    }
  }
  setDeadline(deadline, reason);
  http::async_read_some(stream_, buffer_, *parser_,
                        [self = shared_from_this()](error_code ec, size_t) {
                          if (ec) return self->onReadError(ec);
                          if (self->parser_->is_done()) return self->dispatchRequest();
                          self->readBody();
                        });
}

void Session::dispatchRequest() {
  settleHeadCharge();
  auto msg = parser_->release();
  parser_.reset();
  HttpRequest req = std::move(req_);
  req_ = HttpRequest{};
  req.body = std::move(msg.body());
  if (charged_ > 0) {
    req.body_reservation =
        HttpRequest::Charge(MemoryReservation(srv_->opts.memory_budget, charged_));
    charged_ = 0;
  }

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
  {
    // The handler is done with the request: give its memory back before writing the response.
    HttpRequest done = std::move(req);
  }
  sendResponse(std::move(resp), msg.version(), keep_alive, head);
}

void Session::sendError(int status, std::string body) {
  parser_.reset();
  releaseCharge();
  buffer_.consume(buffer_.size());  // the connection closes: nothing buffered is read again
  sendResponse(HttpResponse::text(status, std::move(body)), 11, /*keep_alive=*/false,
               /*head=*/false);
}

void Session::sendMemoryRefusal() {
  srv_->countMemoryRefusal();
  HttpResponse r = HttpResponse::text(429, "memory limit reached, retry later\n");
  r.headers.emplace_back("Retry-After", std::to_string(srv_->opts.retry_after_seconds));
  const unsigned version = parser_->get().version();
  parser_.reset();
  releaseCharge();
  buffer_.consume(buffer_.size());
  req_ = HttpRequest{};
  sendResponse(std::move(r), version, /*keep_alive=*/false, /*head=*/false);
}

void Session::sendResponse(HttpResponse hr, unsigned version, bool keep_alive, bool head) {
  if (hr.status < 100 || hr.status > 999) {
    srv_->logger.error("http handler returned an invalid status",
                       {{"status", std::to_string(hr.status)}});
    hr = HttpResponse::text(500, "internal server error\n");
  }
  keep_alive = keep_alive && !srv_->stopping();
  close_after_write_ = !keep_alive;
  settleHeadCharge();

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

  if (srv_->opts.idle_timeout.count() > 0) {
    stream_.expires_after(srv_->opts.idle_timeout);
  } else {
    stream_.expires_never();
  }
  expiry_reason_.reset();
  http::async_write(stream_, res_,
                    [self = shared_from_this()](error_code ec, size_t) { self->onWrite(ec); });
}

void Session::onWrite(error_code ec) {
  if (ec) return close();
  res_ = {};
  if (close_after_write_) return lingeringClose();
  readRequest();
}

// Half-closes and drains what the client is still sending for a short while, so that it reads
// our final response instead of getting a reset. A lingering connection is no longer in a
// request: it may be shed like a header-phase one.
void Session::lingeringClose() {
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec || srv_->stopping()) return close();
  const int64_t since = since_ns.load(std::memory_order_relaxed);
  if (!enterPhase(authenticated.load(std::memory_order_relaxed) ? Phase::kIdle : Phase::kHeader)) {
    return;
  }
  since_ns.store(since, std::memory_order_relaxed);  // keeps its place in the shedding order
  stream_.expires_after(kLingerTime);
  expiry_reason_.reset();
  drain();
}

void Session::drain() {
  stream_.async_read_some(asio::buffer(g_drain_buf),
                          [self = shared_from_this()](error_code ec, size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ > kLingerMaxBytes || self->srv_->stopping()) {
                              return self->close();
                            }
                            self->drain();
                          });
}

}  // namespace telegate::net
