// The TLS stream of net::HttpServer (http_stream.h): one read delivers every buffered record,
// large bodies arrive intact whatever the record sizes, the read-ahead growth is charged and
// given back, a slow TLS body still meets min_receive_rate, and the server's cipher preference.
// Loopback only; certificates from tls_test_util.h (openssl CLI at test time).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/ioctl.h>

#include <csignal>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "src/net/http_stream.h"
#include "src/net/http_test_util.h"
#include "src/net/tls/tls_test_util.h"

namespace telegate::net {
namespace {

using tls::testing::TestPki;

std::shared_ptr<tls::TlsServerContext> serverContext(metrics::Registry* m) {
  tls::TlsServerSettings s;
  s.cert_file = TestPki::get().server_cert;
  s.key_file = TestPki::get().server_key;
  auto ctx = tls::TlsServerContext::create(s, "test", m);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? *ctx : nullptr;
}

// A blocking OpenSSL client over a test Conn. `tls13` / `tls12`: the client's suite lists
// ("" = OpenSSL's defaults); max_version 0 = highest.
class Client {
 public:
  explicit Client(uint16_t port, std::string tls13 = "", std::string tls12 = "",
                  int max_version = 0)
      : conn_(port) {
    signal(SIGPIPE, SIG_IGN);
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!tls13.empty()) SSL_CTX_set_ciphersuites(ctx_, tls13.c_str());
    if (!tls12.empty()) SSL_CTX_set_cipher_list(ctx_, tls12.c_str());
    if (max_version != 0) SSL_CTX_set_max_proto_version(ctx_, max_version);
    SSL_CTX_load_verify_locations(ctx_, TestPki::get().ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    SSL_set_fd(ssl_, conn_.fd());
    ok_ = conn_.connected() && SSL_connect(ssl_) == 1;
    ERR_clear_error();
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  bool ok() const { return ok_; }
  std::string cipher() { return SSL_get_cipher_name(ssl_); }
  // One SSL_write of `data` (records of at most 16 KiB each).
  bool write(std::string_view data) {
    size_t n = 0;
    return ok_ && SSL_write_ex(ssl_, data.data(), data.size(), &n) == 1 && n == data.size();
  }
  // Reads one response: {status, body}; status 0 when the exchange failed.
  std::pair<int, std::string> response() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return {0, ""};
    }
    const std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    const size_t cl = head.find("Content-Length: ");
    const size_t len = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
    while (buf_.size() < len) {
      if (!fill()) return {0, ""};
    }
    std::string body = buf_.substr(0, len);
    buf_.erase(0, len);
    return {std::stoi(head.substr(9, 3)), body};
  }
  // True once the server closed the connection (SSL_read fails) within the socket timeout.
  bool closed() {
    char tmp[4096];
    for (;;) {
      errno = 0;
      const int n = SSL_read(ssl_, tmp, sizeof tmp);
      ERR_clear_error();
      if (n <= 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }

 private:
  bool fill() {
    char tmp[4096];
    const int n = SSL_read(ssl_, tmp, sizeof tmp);
    ERR_clear_error();
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  Conn conn_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
  std::string buf_;
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 12345;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

std::string post(size_t length) {
  return "POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(length) +
         "\r\n\r\n";
}

// The handler answers with the body's size and whether it equals pattern(size).
HttpResponse checkBody(const HttpRequest& r) {
  const bool same = r.body == pattern(r.body.size());
  return HttpResponse::text(200, std::to_string(r.body.size()) + (same ? " same" : " different"));
}

TEST(HttpStreamTlsTest, OneReadDeliversEveryBufferedRecord) {
  metrics::Registry m;
  auto ctx = serverContext(&m);
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t port = acceptor.local_endpoint().port();
  const std::string data = pattern(64u << 10);
  std::atomic<bool> sent{false}, done{false};
  std::thread client([&] {
    Client c(port);
    sent = c.write(data);  // four full records in one go
    while (!done) std::this_thread::sleep_for(5ms);
  });
  http_internal::HttpStream stream(acceptor.accept());
  stream.enableTls(ctx->current(), nullptr);
  boost::system::error_code hs_ec = boost::asio::error::would_block;
  stream.async_handshake([&](boost::system::error_code ec) { hs_ec = ec; });
  ioc.run();
  ASSERT_FALSE(hs_ec) << hs_ec.message();
  // Wait until every record sits in the socket's receive queue.
  const auto until = Clock::now() + 3s;
  int queued = 0;
  while (Clock::now() < until && (!sent || queued < static_cast<int>(data.size()))) {
    ioctl(stream.socket().native_handle(), FIONREAD, &queued);
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(sent);
  std::string got(data.size(), '\0');
  size_t n = 0;
  stream.async_read_some(boost::asio::buffer(got), [&](boost::system::error_code ec, size_t k) {
    EXPECT_FALSE(ec) << ec.message();
    n = k;
  });
  ioc.restart();
  ioc.run();
  EXPECT_EQ(n, data.size());  // not one 16 KiB record per read
  EXPECT_TRUE(got == data);
  done = true;
  client.join();
}

TEST(HttpServerTlsStreamTest, LargeBodyArrivesIntactInManyRecordSizes) {
  metrics::Registry m;
  MemoryBudget budget(64u << 20);
  HttpServerOptions o;
  o.metrics = &m;
  o.memory_budget = &budget;
  o.tls = serverContext(&m);
  auto srv = startServer(o, checkBody);
  Client c(srv->port());
  ASSERT_TRUE(c.ok());
  const size_t idle_charge = 96u << 10;  // the TLS state (http_session_tls.cc)
  EXPECT_TRUE(waitFor([&] { return budget.used() == idle_charge; })) << budget.used();
  for (size_t total : {size_t{3u << 20} + 12345, size_t{100}, size_t{70000}}) {
    SCOPED_TRACE(total);
    const std::string body = pattern(total);
    ASSERT_TRUE(c.write(post(total)));
    static constexpr size_t kSizes[] = {1, 7, 100, 1500, 4096, 16383, 16384, 16385, 40000, 65536};
    size_t off = 0;
    for (size_t i = 0; off < total; ++i) {
      const size_t n = std::min(kSizes[i % std::size(kSizes)], total - off);
      ASSERT_TRUE(c.write(std::string_view(body).substr(off, n)));
      off += n;
    }
    auto [status, answer] = c.response();
    EXPECT_EQ(status, 200);
    EXPECT_EQ(answer, std::to_string(total) + " same");
    // The body and the larger read-ahead it used are given back once the request is done.
    EXPECT_TRUE(waitFor([&] { return budget.used() == idle_charge; })) << budget.used();
  }
}

TEST(HttpServerTlsStreamTest, SlowTlsBodyIsShedAtMinReceiveRate) {
  metrics::Registry m;
  HttpServerOptions o;
  o.metrics = &m;
  o.min_receive_rate = 64u << 10;
  o.min_rate_grace = 200ms;
  o.tls = serverContext(&m);
  auto srv = startServer(o, checkBody);
  Client c(srv->port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.write(post(1u << 20)));
  const auto start = Clock::now();
  const std::string piece = pattern(100);
  // 100 bytes every 20 ms (5 KB/s) until the server gives up.
  while (Clock::now() - start < 3s && c.write(piece)) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(c.closed());
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(m.counter("telegate_http_server_connections_shed_total", "", {"server", "reason"})
                .with({"http", "min_receive_rate"})
                .value(),
            1);
}

TEST(HttpServerTlsStreamTest, ServerPrefersAes128ButHonoursChaChaFirstClients) {
  metrics::Registry m;
  HttpServerOptions o;
  o.metrics = &m;
  o.tls = serverContext(&m);
  auto srv = startServer(o);
  // OpenSSL's client order starts with AES-256-GCM.
  Client by_default(srv->port());
  ASSERT_TRUE(by_default.ok());
  EXPECT_EQ(by_default.cipher(), "TLS_AES_128_GCM_SHA256");
  Client chacha(srv->port(),
                "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256");
  ASSERT_TRUE(chacha.ok());
  EXPECT_EQ(chacha.cipher(), "TLS_CHACHA20_POLY1305_SHA256");
  Client aes256_only(srv->port(), "TLS_AES_256_GCM_SHA384");
  ASSERT_TRUE(aes256_only.ok());
  EXPECT_EQ(aes256_only.cipher(), "TLS_AES_256_GCM_SHA384");
  Client tls12(srv->port(), "", "", TLS1_2_VERSION);
  ASSERT_TRUE(tls12.ok());
  EXPECT_NE(tls12.cipher().find("AES128-GCM"), std::string::npos) << tls12.cipher();
}

}  // namespace
}  // namespace telegate::net
