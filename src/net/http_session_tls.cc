// The TLS handshake of a net::HttpServer connection (options.tls set) and its metrics. See
// http_server.h for the contract; the HTTP exchange after it is http_session.cc's.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>

#include <boost/asio/ssl/error.hpp>

#include "src/net/http_server_impl.h"

namespace telegate::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;
using http_internal::Phase;
using http_internal::ShedReason;
using http_internal::TlsFailure;

namespace {

// What a TLS connection holds beyond a plain one, charged to the memory budget for its whole
// life: OpenSSL's record buffers (2 x 17 KiB while in use), the SSL object with its handshake
// state, the base ciphertext read buffer (17 KiB) and the encrypted response records (up to
// 16 KiB for the small writes of a response head and body). A body read's larger read-ahead is
// charged by the stream while it lasts (http_stream.h).
constexpr size_t kTlsConnectionBytes = 96u << 10;

}  // namespace

namespace http_internal {

std::string_view tlsFailureName(TlsFailure r) {
  switch (r) {
    case TlsFailure::kProtocolVersion:
      return "protocol_version";
    case TlsFailure::kNoSharedCipher:
      return "no_shared_cipher";
    case TlsFailure::kClientCertificate:
      return "client_certificate";
    case TlsFailure::kPlainHttp:
      return "plain_http";
    case TlsFailure::kClientAlert:
      return "client_alert";
    case TlsFailure::kEof:
      return "eof";
    case TlsFailure::kOther:
    case TlsFailure::kCount:
      break;
  }
  return "other";
}

TlsFailure classifyHandshakeError(const error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
      ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
    return TlsFailure::kEof;
  }
  if (ec.category() != asio::error::get_ssl_category()) return TlsFailure::kOther;
  const int reason =
      ERR_GET_REASON(static_cast<unsigned long>(static_cast<unsigned int>(ec.value())));
  switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_VERSION_TOO_HIGH:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return TlsFailure::kProtocolVersion;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SHARED_GROUPS:
    case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
    case SSL_R_NO_CIPHERS_AVAILABLE:
    case SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      return TlsFailure::kNoSharedCipher;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_NO_CERTIFICATES_RETURNED:
      return TlsFailure::kClientCertificate;
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
      return TlsFailure::kPlainHttp;
    default:
      // Alerts the client sent: OpenSSL's reasons SSL_AD_REASON_OFFSET + alert code.
      if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
        return TlsFailure::kClientAlert;
      }
      return TlsFailure::kOther;
  }
}

}  // namespace http_internal

void HttpServer::Impl::initTlsMetrics() {
  if (opts.metrics == nullptr || !opts.tls) return;
  auto& failures = opts.metrics->counter(
      "telegate_http_server_tls_handshake_failures_total",
      "TLS handshakes an HTTP server failed, by reason (a handshake cut by header_timeout is "
      "counted in telegate_http_server_connections_shed_total).",
      {"server", "reason"});
  for (size_t i = 0; i < tls_failures.size(); ++i) {
    tls_failures[i] = &failures.with(
        {opts.name, std::string(http_internal::tlsFailureName(static_cast<TlsFailure>(i)))});
  }
  auto& done = opts.metrics->counter("telegate_http_server_tls_handshakes_total",
                                     "TLS handshakes an HTTP server completed, by whether the "
                                     "session was resumed.",
                                     {"server", "resumed"});
  tls_full = &done.with({opts.name, "false"});
  tls_resumed = &done.with({opts.name, "true"});
}

void HttpServer::Impl::countHandshake(bool resumed) {
  if (metrics::Counter* c = resumed ? tls_resumed : tls_full) c->inc();
}

void HttpServer::Impl::countHandshakeFailure(TlsFailure r, const std::string& remote,
                                             const error_code& ec) {
  if (metrics::Counter* c = tls_failures[static_cast<size_t>(r)]) c->inc();
  if (tls_log.shouldLog()) {
    logger.warn("TLS handshake failed (logged once a minute)",
                {{"reason", std::string(http_internal::tlsFailureName(r))},
                 {"remote_addr", remote},
                 {"err", ec.message()}});
  }
}

// Charges the TLS state, wraps the stream with the context current now and runs the handshake
// under the first request's header deadline.
void Session::startTls() {
  if (srv_->stopping()) return close();
  if (!enterPhase(Phase::kHeader)) return;
  if (MemoryBudget* budget = srv_->opts.memory_budget; budget != nullptr) {
    if (!budget->tryReserve(kTlsConnectionBytes)) {
      srv_->countShed(ShedReason::kMemoryLimit);
      return close();
    }
    tls_charged_ = kTlsConnectionBytes;
  }
  try {
    stream_.enableTls(srv_->opts.tls->current(), srv_->opts.memory_budget);
  } catch (const std::exception& e) {
    srv_->countHandshakeFailure(TlsFailure::kOther, remote_, error_code(asio::error::no_memory));
    return close();
  }
  const auto& o = srv_->opts;
  auto after = [this](std::chrono::milliseconds d) {
    return d.count() > 0 ? req_start_ + d : Clock::time_point::max();
  };
  const Clock::time_point header_end = after(o.header_timeout);
  const Clock::time_point request_end = after(o.read_timeout);
  if (request_end < header_end) {
    setDeadline(request_end, ShedReason::kRequestTimeout);
  } else {
    setDeadline(header_end, ShedReason::kHeaderTimeout);
  }
  stream_.async_handshake([self = shared_from_this()](error_code ec) { self->onHandshake(ec); });
}

void Session::onHandshake(const error_code& ec) {
  if (ec) {
    if (ec == beast::error::timeout && expiry_reason_) {
      srv_->countShed(*expiry_reason_);
    } else if (ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor &&
               !srv_->stopping() && phase.load(std::memory_order_acquire) != Phase::kShed) {
      srv_->countHandshakeFailure(http_internal::classifyHandshakeError(ec), remote_, ec);
    }
    return close();
  }
  SSL* ssl = stream_.nativeTls();
  srv_->countHandshake(SSL_session_reused(ssl) == 1);
  auto id = tls::peerIdentity(ssl);
  if (id->verified) peer_ = std::move(id);
  readRequest();
}

}  // namespace telegate::net
