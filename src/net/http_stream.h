// The byte stream of one net::HttpServer connection: a beast::tcp_stream (deadlines, the socket)
// optionally wrapped in TLS. Reads and writes go through TLS once enableTls() was called and
// straight to TCP otherwise, so the session's HTTP code has one path for both.
//
// TLS is driven here directly (OpenSSL through a BIO over the stream's own buffers, no
// asio::ssl::stream): a read takes up to kMaxReadAhead bytes of ciphertext from the socket at
// once and decrypts every record already buffered into the caller's buffer before it returns,
// so a large body costs one socket read and one trip through the event loop per 64 KiB rather
// than per 16 KiB record. A write encrypts the caller's buffers (coalesced into one record when
// small) and sends all records with one socket write.
//
// Contract:
//  * expires_*() set the deadline of the TCP stream; it bounds TLS operations too (their TCP
//    reads and writes time out with beast::error::timeout).
//  * enableTls(ctx, budget) must be called before any read or write; the connection keeps `ctx`
//    (the server context current at accept) for its whole life, so certificate rotation never
//    touches an established connection.
//  * Memory: the base ciphertext buffer (kBaseReadAhead) belongs to the per-connection TLS
//    charge of the caller. A read whose buffer is larger (a body read) grows it up to
//    kMaxReadAhead; the growth is reserved in `budget` first (refused: the base size is kept)
//    and released as soon as a read asks for a small buffer again (the next head).
//  * Errors are those of asio::ssl::stream: OpenSSL failures in asio's ssl category (the
//    OpenSSL error code as value), asio::ssl::error::stream_truncated for a TCP EOF without
//    close_notify, asio::error::eof after the peer's close_notify, and the TCP stream's errors.
//  * At most one operation (handshake, read or write) is outstanding at a time, which is how
//    the session uses it.
//  * close() closes the socket without a TLS close_notify (the session stays resumable).
//
// Threading: like the socket, used from the connection's strand only.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>

#include "src/common/memory_budget.h"
#include "src/net/tls/tls.h"

namespace telegate::net::http_internal {

// Buffers and OpenSSL state of one server-side TLS connection (http_stream_tls.cc).
class TlsConn {
 public:
  static constexpr size_t kBaseReadAhead = 17u << 10;  // one full record and its overhead
  // A 64 KiB read takes four full records with their overhead (22 bytes each in TLS 1.3).
  static constexpr size_t kRecordsOverhead = 1u << 10;
  static constexpr size_t kMaxReadAhead = (64u << 10) + kRecordsOverhead;
  static constexpr size_t kMaxWrite = 64u << 10;  // plaintext encrypted per write_some

  // Throws std::bad_alloc when OpenSSL cannot allocate the connection.
  TlsConn(std::shared_ptr<SSL_CTX> ctx, MemoryBudget* budget);
  ~TlsConn();
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;

  SSL* ssl() { return ssl_; }

  enum class Step { kDone, kNeedInput };
  // One handshake step. kDone: finished (ec clear) or failed (ec set).
  Step handshake(boost::system::error_code& ec);
  // Decrypts buffered records into `buffers` until they are full or nothing complete is left.
  // kDone: *n bytes delivered or ec set; kNeedInput: nothing delivered, read the socket.
  template <class MutableBuffers>
  Step read(const MutableBuffers& buffers, size_t* n, boost::system::error_code& ec) {
    *n = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::mutable_buffer b = *it;
      while (b.size() > 0) {
        size_t got = 0;
        if (!readOnce(static_cast<char*>(b.data()), b.size(), &got, ec)) {
          if (*n > 0) ec = {};  // the error is kept and reported by the next read
          return *n > 0 || ec ? Step::kDone : Step::kNeedInput;
        }
        *n += got;
        b += got;
      }
    }
    return Step::kDone;
  }
  // Encrypts up to kMaxWrite bytes of `buffers` into the output; returns the plaintext taken.
  template <class ConstBuffers>
  size_t write(const ConstBuffers& buffers, boost::system::error_code& ec) {
    const size_t total = boost::asio::buffer_size(buffers);
    if (total <= kSmallWrite) {  // one record: coalesce header and body
      scratch_.resize(total);
      boost::asio::buffer_copy(boost::asio::buffer(scratch_), buffers);
      return writeOnce(scratch_.data(), total, ec) ? total : 0;
    }
    size_t n = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && n < kMaxWrite; ++it) {
      boost::asio::const_buffer b = *it;
      const size_t take = std::min(b.size(), kMaxWrite - n);
      if (take == 0) continue;
      if (!writeOnce(static_cast<const char*>(b.data()), take, ec)) return n;
      n += take;
    }
    return n;
  }

  // Room for the next socket read, sized for a caller reading `want` bytes (see the contract).
  boost::asio::mutable_buffer prepareInput(size_t want);
  void commitInput(size_t n) { in_end_ += n; }
  // A TCP read error as asio::ssl::stream reports it (EOF without close_notify: truncated).
  boost::system::error_code mapReadError(const boost::system::error_code& ec) const;

  std::string& output() { return out_; }
  void outputSent();

  // BIO callbacks (http_stream_tls.cc).
  int bioRead(char* to, int len);
  int bioWrite(const char* from, int len);

 private:
  static constexpr size_t kSmallWrite = 16u << 10;
  bool readOnce(char* to, size_t len, size_t* got, boost::system::error_code& ec);
  bool writeOnce(const char* from, size_t len, boost::system::error_code& ec);
  boost::system::error_code sslError(int ret);

  std::shared_ptr<SSL_CTX> ctx_;
  SSL* ssl_ = nullptr;
  MemoryBudget* const budget_;
  std::unique_ptr<char[]> in_;
  size_t in_cap_ = 0;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  size_t in_charged_ = 0;            // in_cap_ beyond kBaseReadAhead, reserved in budget_
  std::string out_;                  // encrypted records waiting for the socket
  std::string scratch_;              // small writes coalesced into one record
  boost::system::error_code fatal_;  // a failed TLS connection stays failed
};

class HttpStream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;

  explicit HttpStream(boost::asio::ip::tcp::socket socket) : tcp_(std::move(socket)) {}
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  executor_type get_executor() noexcept { return tcp_.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return tcp_.socket(); }
  // Closes the socket. A TLS session that completed its handshake is marked as shut down
  // cleanly first, so OpenSSL keeps it resumable (it drops sessions of connections freed
  // without a shutdown).
  void close() {
    if (tls_ && SSL_is_init_finished(tls_->ssl())) {
      SSL_set_shutdown(tls_->ssl(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
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

  // Makes the connection a server-side TLS one using `ctx`; `budget` (may be null) is charged
  // for read-ahead growth. Throws std::bad_alloc when OpenSSL cannot allocate its state.
  void enableTls(std::shared_ptr<SSL_CTX> ctx, MemoryBudget* budget) {
    tls_ = std::make_unique<TlsConn>(std::move(ctx), budget);
  }
  bool tls() const { return tls_ != nullptr; }
  SSL* nativeTls() { return tls_ ? tls_->ssl() : nullptr; }

  template <class Handler>
  auto async_handshake(Handler&& h) {
    return boost::asio::async_compose<Handler, void(boost::system::error_code)>(HandshakeOp{this},
                                                                                h, tcp_);
  }

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& h) {
    if (!tls_) return tcp_.async_read_some(buffers, std::forward<Handler>(h));
    return boost::asio::async_compose<Handler, void(boost::system::error_code, size_t)>(
        ReadOp<MutableBuffers>{this, buffers}, h, tcp_);
  }

  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& h) {
    if (!tls_) return tcp_.async_write_some(buffers, std::forward<Handler>(h));
    return boost::asio::async_compose<Handler, void(boost::system::error_code, size_t)>(
        WriteOp<ConstBuffers>{this, buffers}, h, tcp_);
  }

 private:
  enum class State { kStart, kPosted, kReading, kFlushing };

  // Sends what OpenSSL wrote (alerts, tickets, key updates) before going on.
  template <class Self>
  void flush(Self& self) {
    boost::asio::async_write(tcp_, boost::asio::buffer(tls_->output()), std::move(self));
  }

  struct HandshakeOp {
    HttpStream* s;
    State state = State::kStart;
    bool need_input = false;
    boost::system::error_code result;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t n = 0) {
      TlsConn& t = *s->tls_;
      switch (state) {
        case State::kStart:
          break;
        case State::kPosted:
          return self.complete(result);
        case State::kReading:
          if (ec) return self.complete(t.mapReadError(ec));
          t.commitInput(n);
          break;
        case State::kFlushing:
          t.outputSent();
          if (ec) return self.complete(ec);
          if (!need_input || result) return self.complete(result);
          return readMore(self);
      }
      need_input = t.handshake(result) == TlsConn::Step::kNeedInput;
      if (!t.output().empty()) {
        state = State::kFlushing;
        return s->flush(self);
      }
      if (need_input) return readMore(self);
      state = State::kPosted;
      boost::asio::post(s->tcp_.get_executor(), std::move(self));
    }
    template <class Self>
    void readMore(Self& self) {
      state = State::kReading;
      s->tcp_.async_read_some(s->tls_->prepareInput(0), std::move(self));
    }
  };

  template <class MutableBuffers>
  struct ReadOp {
    HttpStream* s;
    MutableBuffers buffers;
    State state = State::kStart;
    bool inline_start = true;  // nothing asynchronous happened yet: completion must be posted
    size_t got = 0;
    boost::system::error_code result;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t n = 0) {
      TlsConn& t = *s->tls_;
      switch (state) {
        case State::kStart:
          break;
        case State::kPosted:
          return self.complete(result, got);
        case State::kReading:
          if (ec) return self.complete(t.mapReadError(ec), 0);
          t.commitInput(n);
          break;
        case State::kFlushing:
          t.outputSent();
          return self.complete(ec ? ec : result, got);
      }
      const TlsConn::Step step = t.read(buffers, &got, result);
      if (!t.output().empty()) {
        state = State::kFlushing;
        return s->flush(self);
      }
      if (step == TlsConn::Step::kNeedInput) {
        state = State::kReading;
        inline_start = false;
        s->tcp_.async_read_some(t.prepareInput(boost::asio::buffer_size(buffers)), std::move(self));
        return;
      }
      if (!inline_start) return self.complete(result, got);
      state = State::kPosted;
      boost::asio::post(s->tcp_.get_executor(), std::move(self));
    }
  };

  template <class ConstBuffers>
  struct WriteOp {
    HttpStream* s;
    ConstBuffers buffers;
    State state = State::kStart;
    size_t taken = 0;
    boost::system::error_code result;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t = 0) {
      TlsConn& t = *s->tls_;
      switch (state) {
        case State::kStart:
          taken = t.write(buffers, result);
          if (!t.output().empty()) {
            state = State::kFlushing;
            return s->flush(self);
          }
          state = State::kPosted;
          return boost::asio::post(s->tcp_.get_executor(), std::move(self));
        case State::kFlushing:
          t.outputSent();
          return self.complete(ec ? ec : result, ec ? 0 : taken);
        case State::kPosted:
        case State::kReading:
          return self.complete(result, taken);
      }
    }
  };

  boost::beast::tcp_stream tcp_;
  std::unique_ptr<TlsConn> tls_;
};

}  // namespace telegate::net::http_internal
