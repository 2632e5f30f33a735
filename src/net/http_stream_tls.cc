// TlsConn (http_stream.h): OpenSSL driven through a BIO that reads the connection's ciphertext
// buffer and appends to its output string, so that no byte goes through a BIO pair or a socket
// call of OpenSSL's own.
#include <openssl/bio.h>
#include <openssl/err.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "src/net/http_stream.h"

namespace telegate::net::http_internal {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

int bioRead(BIO* b, char* to, int len) {
  BIO_clear_retry_flags(b);
  return static_cast<TlsConn*>(BIO_get_data(b))->bioRead(to, len);
}

int bioWrite(BIO* b, const char* from, int len) {
  BIO_clear_retry_flags(b);
  return static_cast<TlsConn*>(BIO_get_data(b))->bioWrite(from, len);
}

long bioCtrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int bioCreate(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

// Created once, never freed (like OpenSSL's own BIO methods).
BIO_METHOD* bioMethod() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "telegate-tls");
    if (method == nullptr) return method;
    BIO_meth_set_read(method, bioRead);
    BIO_meth_set_write(method, bioWrite);
    BIO_meth_set_ctrl(method, bioCtrl);
    BIO_meth_set_create(method, bioCreate);
    return method;
  }();
  return m;
}

}  // namespace

TlsConn::TlsConn(std::shared_ptr<SSL_CTX> ctx, MemoryBudget* budget)
    : ctx_(std::move(ctx)), budget_(budget) {
  BIO_METHOD* method = bioMethod();
  ssl_ = method == nullptr ? nullptr : SSL_new(ctx_.get());
  BIO* bio = ssl_ == nullptr ? nullptr : BIO_new(method);
  if (bio == nullptr) {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ERR_clear_error();
    throw std::bad_alloc();
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one reference, owned by ssl_
  SSL_set_accept_state(ssl_);
}

TlsConn::~TlsConn() {
  SSL_free(ssl_);
  if (in_charged_ > 0) budget_->release(in_charged_);
}

int TlsConn::bioRead(char* to, int len) {
  const size_t have = in_end_ - in_begin_;
  if (have == 0) {
    BIO_set_retry_read(SSL_get_rbio(ssl_));
    return -1;
  }
  const size_t n = std::min(have, static_cast<size_t>(len));
  std::memcpy(to, in_.get() + in_begin_, n);
  in_begin_ += n;
  return static_cast<int>(n);
}

int TlsConn::bioWrite(const char* from, int len) {
  out_.append(from, static_cast<size_t>(len));
  return len;
}

error_code TlsConn::sslError(int ret) {
  const int e = SSL_get_error(ssl_, ret);
  if (e == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code != 0) return error_code(static_cast<int>(code), asio::error::get_ssl_category());
  return e == SSL_ERROR_SSL ? error_code(asio::ssl::error::unexpected_result)
                            : error_code(asio::ssl::error::unspecified_system_error);
}

TlsConn::Step TlsConn::handshake(error_code& ec) {
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    ec = {};
    return Step::kDone;
  }
  if (SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ) return Step::kNeedInput;
  ec = sslError(r);
  fatal_ = ec;
  return Step::kDone;
}

bool TlsConn::readOnce(char* to, size_t len, size_t* got, error_code& ec) {
  if (fatal_) {
    ec = fatal_;
    return false;
  }
  ERR_clear_error();
  const int r = SSL_read_ex(ssl_, to, len, got);
  if (r == 1) return true;
  if (SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ) return false;
  ec = sslError(r);
  fatal_ = ec;
  return false;
}

bool TlsConn::writeOnce(const char* from, size_t len, error_code& ec) {
  if (len == 0) return true;
  if (fatal_) {
    ec = fatal_;
    return false;
  }
  ERR_clear_error();
  size_t written = 0;
  // The BIO takes everything, so a write either succeeds whole or fails.
  if (SSL_write_ex(ssl_, from, len, &written) == 1 && written == len) return true;
  ec = sslError(0);
  fatal_ = ec;
  return false;
}

asio::mutable_buffer TlsConn::prepareInput(size_t want) {
  // Only called when OpenSSL has consumed everything buffered.
  in_begin_ = in_end_ = 0;
  size_t cap = std::clamp(want + kRecordsOverhead, kBaseReadAhead, kMaxReadAhead);
  if (cap > kBaseReadAhead && cap != in_cap_) {
    const size_t extra = cap - kBaseReadAhead;
    if (extra > in_charged_ && budget_ != nullptr && !budget_->tryReserve(extra - in_charged_)) {
      cap = std::max<size_t>(kBaseReadAhead, std::min(in_cap_, cap));
    }
  }
  if (cap != in_cap_) {
    in_.reset(new char[cap]);
    in_cap_ = cap;
    const size_t extra = cap - kBaseReadAhead;
    if (budget_ != nullptr) {
      if (extra < in_charged_) budget_->release(in_charged_ - extra);
      in_charged_ = extra;
    }
  }
  return asio::buffer(in_.get(), in_cap_);
}

error_code TlsConn::mapReadError(const error_code& ec) const {
  if (ec != asio::error::eof) return ec;
  if ((SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) == 0) {
    return asio::ssl::error::stream_truncated;
  }
  return ec;
}

void TlsConn::outputSent() {
  out_.clear();
  if (out_.capacity() > kMaxReadAhead) out_.shrink_to_fit();
}

}  // namespace telegate::net::http_internal
