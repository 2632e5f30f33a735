// Internals of net::HttpServer (http_server.h), shared by http_server.cc (listener, connection
// table, start/stop) and http_session.cc (one connection). Not for use outside src/net.
//
// Threading: Impl's table (sessions, per-source counts) is guarded by Impl::mu and touched only
// when a connection is admitted or destroyed and when stop() runs, never per request. A Session
// runs on its own strand; the fields the table reads while choosing a connection to shed
// (phase, authenticated, since) are atomics the session updates with compare-exchange, so a
// connection that was chosen (phase kShed) can no longer enter a protected phase.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "src/common/log.h"
#include "src/common/metrics.h"
#include "src/net/http_server.h"
#include "src/net/http_stream.h"

namespace telegate::net {

namespace http_internal {

using Clock = std::chrono::steady_clock;

// Why the server closed a connection on its own; the `reason` label of
// telegate_http_server_connections_shed_total.
enum class ShedReason : uint8_t {
  kUnauthenticated,
  kIdle,
  kPerClientLimit,
  kConnectionLimit,
  kHeaderTimeout,
  kRequestTimeout,
  kMinReceiveRate,
  kIdleTimeout,
  kMemoryLimit,  // a request header grew past what the memory budget allowed
  kCount,
};
std::string_view shedReasonName(ShedReason r);

// Why a TLS handshake failed; the `reason` label of
// telegate_http_server_tls_handshake_failures_total.
enum class TlsFailure : uint8_t {
  kProtocolVersion,    // no TLS version in common (e.g. a TLS 1.1 client)
  kNoSharedCipher,     // no cipher suite or group in common
  kClientCertificate,  // missing, unverifiable or rejected client certificate
  kPlainHttp,          // plain HTTP sent to the TLS port
  kClientAlert,        // the client gave up with an alert (e.g. it does not trust our certificate)
  kEof,                // the client closed or reset the connection during the handshake
  kOther,
  kCount,
};
std::string_view tlsFailureName(TlsFailure r);
TlsFailure classifyHandshakeError(const boost::system::error_code& ec);

// Where a connection is in its life, as the connection table sees it.
enum class Phase : uint8_t {
  kHeader,  // reading a request header (not yet judged)
  kIdle,    // keep-alive, waiting for the first byte of the next request
  kActive,  // past the header check: body, handler or response
  kShed,    // chosen to be shed; closes as soon as its strand runs
};

int64_t nowNs();

bool iequals(std::string_view a, std::string_view b);

}  // namespace http_internal

class Session;

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions o, HttpHandler h);

  absl::Status start();
  void stop();
  void doAccept();
  void onAccept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

  // Admits a new session into the table (shedding another one if needed). False: refused.
  bool admit(const std::shared_ptr<Session>& s);
  void unregisterSession(Session* s);
  bool stopping() const { return stopping_flag.load(std::memory_order_acquire); }

  void countShed(http_internal::ShedReason r);
  void countMemoryRefusal();
  // TLS (http_session_tls.cc): registers the TLS metrics (constructor), counts handshakes.
  void initTlsMetrics();
  void countHandshake(bool resumed);
  void countHandshakeFailure(http_internal::TlsFailure r, const std::string& remote,
                             const boost::system::error_code& ec);

  const HttpServerOptions opts;
  const HttpHandler handler;
  const log::Logger logger;
  log::OnceEvery shed_log{std::chrono::seconds(60)};
  log::OnceEvery memory_log{std::chrono::seconds(60)};
  log::OnceEvery accept_error_log{std::chrono::seconds(60)};
  std::array<metrics::Counter*, static_cast<size_t>(http_internal::ShedReason::kCount)>
      shed_counters{};
  metrics::Counter* memory_refusals = nullptr;
  log::OnceEvery tls_log{std::chrono::seconds(60)};
  std::array<metrics::Counter*, static_cast<size_t>(http_internal::TlsFailure::kCount)>
      tls_failures{};
  metrics::Counter* tls_full = nullptr;
  metrics::Counter* tls_resumed = nullptr;

  std::mutex mu;  // guards the fields below
  bool started = false;
  bool stopped = false;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::unordered_map<std::string, size_t> per_source;  // live (not shed) connections per IP
  size_t live = 0;                                     // sessions not shed
  boost::asio::ip::tcp::endpoint bound;

  std::atomic<bool> stopping_flag{false};
  std::atomic<size_t> open_connections{0};
  std::mutex stop_mu;  // serialises stop()

  // Declared last: destroyed first, so pending handlers (and the sessions they own) go away
  // while the members above are still alive.
  boost::asio::io_context ioc;
  boost::asio::strand<boost::asio::io_context::executor_type> accept_strand;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor;  // used on accept_strand after start()
  boost::asio::steady_timer accept_retry;
  std::vector<std::thread> threads;

 private:
  // Picks the connection to shed (mu held): among `source`'s connections when non-null. Marks it
  // kShed and takes it out of the live counts. Null when nothing may be shed. Sessions it had to
  // lock but did not choose go to `keep`, to be released by the caller after mu (a session's
  // destructor takes mu).
  std::shared_ptr<Session> pickVictim(const std::string* source, http_internal::ShedReason* reason,
                                      std::vector<std::shared_ptr<Session>>* keep);
  void shed(const std::shared_ptr<Session>& victim, http_internal::ShedReason reason);
};

// One TCP connection. All member functions except the atomics' readers run on the strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::Impl* srv, boost::asio::ip::tcp::socket socket, std::string remote,
          std::string source);
  ~Session();

  boost::asio::any_io_executor executor() { return stream_.get_executor(); }
  void run();
  // Called (via post) from stop() and when the session is shed.
  void forceClose();

  // Read by the connection table under Impl::mu.
  const std::string& source() const { return source_; }
  std::atomic<http_internal::Phase> phase{http_internal::Phase::kHeader};
  std::atomic<bool> authenticated{false};
  std::atomic<int64_t> since_ns;  // when the current phase began
  bool counted = true;            // in Impl::live/per_source (guarded by Impl::mu)

 private:
  using Clock = http_internal::Clock;
  bool enterPhase(http_internal::Phase to);
  void close();
  void releaseCharge();
  void setDeadline(Clock::time_point at, http_internal::ShedReason reason);
  void startTls();  // http_session_tls.cc
  void onHandshake(const boost::system::error_code& ec);
  void readRequest();
  void readHeader();
  void parseHeader();
  bool chargeHead(size_t held);
  void settleHeadCharge();
  void shedForHeaderMemory();
  void onReadError(const boost::system::error_code& ec);
  void buildRequestHead();
  bool judgeHeader();
  bool chargeBody();
  void growBodyReads();
  void onHeader(boost::system::error_code ec);
  void readBody();
  void dispatchRequest();
  void sendError(int status, std::string body);
  void sendMemoryRefusal();
  void sendResponse(HttpResponse hr, unsigned version, bool keep_alive, bool head);
  void onWrite(boost::system::error_code ec);
  void lingeringClose();
  void drain();

  HttpServer::Impl* const srv_;
  http_internal::HttpStream stream_;
  const std::string remote_;
  const std::string source_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  HttpRequest req_;  // the request being read, without its body
  boost::beast::http::response<boost::beast::http::string_body> res_;
  bool first_request_ = true;
  bool close_after_write_ = false;
  Clock::time_point req_start_;
  Clock::time_point body_start_;
  std::optional<http_internal::ShedReason> expiry_reason_;  // counted when the deadline fires
  size_t charged_ = 0;  // bytes of the current body reserved in srv_->opts.memory_budget
  // Bytes of the request head reserved in srv_->opts.memory_budget: what buffer_ holds (its
  // capacity) plus what the parser took out of it (a request line while the fields are still
  // incomplete), beyond the uncharged allowance (see http_session.cc).
  size_t head_charged_ = 0;
  size_t head_parsed_ = 0;  // bytes of the current head the parser has consumed and holds
  size_t drained_ = 0;
  size_t tls_charged_ = 0;  // the TLS state's charge in srv_->opts.memory_budget
  std::shared_ptr<const tls::PeerIdentity> peer_;  // verified client certificate, or null
};

}  // namespace telegate::net
