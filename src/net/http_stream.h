// The byte stream of one net::HttpServer connection: a beast::tcp_stream (deadlines, the socket)
// optionally wrapped in TLS. Reads and writes go through TLS once enableTls() was called and
// straight to TCP otherwise, so the session's HTTP code has one path for both.
//
// Contract:
//  * expires_*() set the deadline of the TCP stream; it bounds TLS operations too (their TCP
//    reads and writes time out with beast::error::timeout).
//  * enableTls(ctx) must be called before any read or write; the connection keeps `ctx` (the
//    server context current at accept) for its whole life, so certificate rotation never touches
//    an established connection.
//  * close() closes the socket without a TLS close_notify (the session stays resumable).
//
// Threading: like the socket, used from the connection's strand only.
#pragma once

#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "src/net/tls/tls.h"

namespace telegate::net::http_internal {

class HttpStream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;
  using Tls = boost::beast::ssl_stream<boost::beast::tcp_stream&>;

  explicit HttpStream(boost::asio::ip::tcp::socket socket) : tcp_(std::move(socket)) {}
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  executor_type get_executor() noexcept { return tcp_.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return tcp_.socket(); }
  // Closes the socket. A TLS session that completed its handshake is marked as shut down
  // cleanly first, so OpenSSL keeps it resumable (it drops sessions of connections freed
  // without a shutdown).
  void close() {
    if (tls_ && SSL_is_init_finished(tls_->native_handle())) {
      SSL_set_shutdown(tls_->native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
    tcp_.close();
  }
  template <class Duration>
  void expires_after(Duration d) {
    tcp_.expires_after(d);
  }
  template <class TimePoint>
  void expires_at(TimePoint t) {
    tcp_.expires_at(t);
  }
  void expires_never() { tcp_.expires_never(); }

  // Wraps the connection in a server-side TLS stream using `ctx`. Throws only when OpenSSL
  // cannot allocate the connection's state (std::bad_alloc or boost::system::system_error).
  void enableTls(std::shared_ptr<SSL_CTX> ctx) {
    SSL_CTX_up_ref(ctx.get());  // owned (and released) by the asio context below
    boost::asio::ssl::context asio_ctx(ctx.get());
    tls_.emplace(tcp_, asio_ctx);
    ctx_ = std::move(ctx);
  }
  bool tls() const { return tls_.has_value(); }
  SSL* nativeTls() { return tls_ ? tls_->native_handle() : nullptr; }

  template <class Handler>
  void async_handshake(Handler&& h) {
    tls_->async_handshake(boost::asio::ssl::stream_base::server, std::forward<Handler>(h));
  }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& h) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Handler>(h));
    } else {
      tcp_.async_read_some(buffers, std::forward<Handler>(h));
    }
  }

  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& h) {
    if (tls_) {
      tls_->async_write_some(buffers, std::forward<Handler>(h));
    } else {
      tcp_.async_write_some(buffers, std::forward<Handler>(h));
    }
  }

 private:
  boost::beast::tcp_stream tcp_;
  std::shared_ptr<SSL_CTX> ctx_;
  std::optional<Tls> tls_;
};

}  // namespace telegate::net::http_internal
