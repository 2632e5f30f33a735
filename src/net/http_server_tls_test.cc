// net::HttpServer over TLS: trusting and untrusting clients, mutual TLS and the peer identity,
// versions and cipher suites, rotation under open connections, handshake deadlines and metrics.
// Loopback only; certificates from tls_test_util.h (openssl CLI at test time).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "src/net/http_test_util.h"
#include "src/net/tls/tls_test_util.h"

namespace telegate::net {
namespace {

using tls::testing::KubeletDir;
using tls::testing::readAll;
using tls::testing::TestPki;

struct ClientOptions {
  std::string ca = TestPki::get().ca;  // "" = do not verify the server
  std::string cert, key;
  int max_version = 0;  // 0 = library default
  int min_version = 0;
  std::string ciphers;             // TLS 1.2 list; "" = default
  SSL_SESSION* session = nullptr;  // to resume
  bool no_tickets = false;         // resume by session id (the server's cache)
  std::string alpn;                // wire format, e.g. "\x02h2\x08http/1.1"
};

// A blocking OpenSSL client over a test Conn.
class TlsClient {
 public:
  TlsClient(uint16_t port, const ClientOptions& o) : conn_(port) {
    signal(SIGPIPE, SIG_IGN);  // OpenSSL writes with write(2)
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_security_level(ctx_, 0);
    if (o.min_version) SSL_CTX_set_min_proto_version(ctx_, o.min_version);
    if (o.max_version) SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    if (!o.ciphers.empty()) SSL_CTX_set_cipher_list(ctx_, o.ciphers.c_str());
    if (o.no_tickets) SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
    if (!o.alpn.empty()) {
      SSL_CTX_set_alpn_protos(ctx_, reinterpret_cast<const unsigned char*>(o.alpn.data()),
                              static_cast<unsigned int>(o.alpn.size()));
    }
    if (!o.ca.empty()) {
      SSL_CTX_load_verify_locations(ctx_, o.ca.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!o.cert.empty()) {
      SSL_CTX_use_certificate_chain_file(ctx_, o.cert.c_str());
      SSL_CTX_use_PrivateKey_file(ctx_, o.key.c_str(), SSL_FILETYPE_PEM);
    }
    ssl_ = SSL_new(ctx_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    if (o.session != nullptr) SSL_set_session(ssl_, o.session);
    SSL_set_fd(ssl_, conn_.fd());
    handshake_ok_ = conn_.connected() && SSL_connect(ssl_) == 1;
    ERR_clear_error();
  }
  ~TlsClient() {
    if (handshake_ok_) SSL_shutdown(ssl_);  // keeps the session resumable
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  bool handshakeOk() const { return handshake_ok_; }
  SSL* ssl() { return ssl_; }
  std::string alpn() {
    const unsigned char* p = nullptr;
    unsigned int n = 0;
    SSL_get0_alpn_selected(ssl_, &p, &n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  std::string serverCn() {
    X509* cert = SSL_get0_peer_certificate(ssl_);
    char buf[256] = {};
    if (cert) X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, 256);
    return buf;
  }

  // Sends a GET and reads the response: {status, body}; status 0 when the exchange failed.
  std::pair<int, std::string> get(const std::string& path) {
    if (!handshake_ok_) return {0, ""};
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) return {0, ""};
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return {0, ""};
    }
    const std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t cl = head.find("Content-Length: ");
    const size_t len = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
    while (buf_.size() < len) {
      if (!fill()) return {0, ""};
    }
    std::string body = buf_.substr(0, len);
    buf_.erase(0, len);
    return {std::stoi(head.substr(9, 3)), body};
  }

 private:
  bool fill() {
    char tmp[4096];
    int n = SSL_read(ssl_, tmp, sizeof tmp);
    ERR_clear_error();
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  Conn conn_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool handshake_ok_ = false;
  std::string buf_;
};

std::shared_ptr<tls::TlsServerContext> serverContext(tls::TlsServerSettings s,
                                                     metrics::Registry* m) {
  const TestPki& pki = TestPki::get();
  if (s.cert_file.empty()) s.cert_file = pki.server_cert;
  if (s.key_file.empty()) s.key_file = pki.server_key;
  auto ctx = tls::TlsServerContext::create(s, "test", m);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? *ctx : nullptr;
}

double failures(metrics::Registry& m, const std::string& reason) {
  return m.counter("telegate_http_server_tls_handshake_failures_total", "", {"server", "reason"})
      .with({"http", reason})
      .value();
}

double handshakes(metrics::Registry& m, const std::string& resumed) {
  return m.counter("telegate_http_server_tls_handshakes_total", "", {"server", "resumed"})
      .with({"http", resumed})
      .value();
}

// Runs a shell command; returns its exit status and (stdout + stderr).
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

struct Seen {
  std::mutex mu;
  bool tls = false;
  std::shared_ptr<const tls::PeerIdentity> peer, checked_peer;
};

TEST(HttpServerTlsTest, TrustingClientsGetResponsesUntrustingOnesFail) {
  metrics::Registry m;
  Seen seen;
  HttpServerOptions o;
  o.metrics = &m;
  o.tls = serverContext({}, &m);
  auto srv = startServer(o, [&](const HttpRequest& req) {
    std::lock_guard<std::mutex> lock(seen.mu);
    seen.tls = req.tls;
    seen.peer = req.peer;
    return HttpResponse::text(200, "hello " + req.path);
  });
  const std::string url = "https://127.0.0.1:" + std::to_string(srv->port()) + "/x";
  auto [rc, out] = run("curl -sS --max-time 10 --cacert " + TestPki::get().ca + " " + url);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "hello /x");
  {
    std::lock_guard<std::mutex> lock(seen.mu);
    EXPECT_TRUE(seen.tls);
    EXPECT_EQ(seen.peer, nullptr);
  }
  // curl without the CA refuses the server (exit 60: certificate problem).
  auto [rc2, out2] = run("curl -sS --max-time 10 " + url);
  EXPECT_EQ(rc2, 60) << out2;
  EXPECT_TRUE(waitFor([&] { return failures(m, "client_alert") == 1; }))
      << failures(m, "client_alert") << " other " << failures(m, "other");
  // Plain HTTP to the TLS port: no response, counted.
  Conn plain(srv->port());
  ASSERT_TRUE(plain.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_FALSE(plain.readResponse().has_value());
  EXPECT_TRUE(waitFor([&] { return failures(m, "plain_http") == 1; })) << failures(m, "plain_http");
  EXPECT_EQ(handshakes(m, "false"), 1);
}

TEST(HttpServerTlsTest, MutualTlsRefusesMissingForeignAndExpiredCertificates) {
  const TestPki& pki = TestPki::get();
  metrics::Registry m;
  Seen seen;
  tls::TlsServerSettings s;
  s.client_ca_file = pki.ca;
  s.client_auth = tls::ClientAuth::kRequireAndVerifyClientCert;
  HttpServerOptions o;
  o.metrics = &m;
  o.tls = serverContext(s, &m);
  o.header_check = [&](const HttpRequest& req) {
    std::lock_guard<std::mutex> lock(seen.mu);
    seen.checked_peer = req.peer;
    return HeaderDecision::accept();
  };
  auto srv = startServer(o, [&](const HttpRequest& req) {
    std::lock_guard<std::mutex> lock(seen.mu);
    seen.peer = req.peer;
    return HttpResponse::text(200, "ok");
  });
  for (int v : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(v);
    ClientOptions none;
    none.max_version = v;
    EXPECT_EQ(TlsClient(srv->port(), none).get("/").first, 0);
    ClientOptions stranger = none;
    stranger.cert = pki.other_client_cert;
    stranger.key = pki.other_client_key;
    EXPECT_EQ(TlsClient(srv->port(), stranger).get("/").first, 0);
    ClientOptions expired = none;
    expired.cert = pki.expired_cert;
    expired.key = pki.expired_key;
    EXPECT_EQ(TlsClient(srv->port(), expired).get("/").first, 0);
    ClientOptions good = none;
    good.cert = pki.client_cert;
    good.key = pki.client_key;
    TlsClient client(srv->port(), good);
    EXPECT_EQ(client.get("/").first, 200);
    EXPECT_EQ(client.get("/again").first, 200);  // keep-alive: same identity
  }
  EXPECT_TRUE(waitFor([&] { return failures(m, "client_certificate") == 6; }))
      << failures(m, "client_certificate") << " other " << failures(m, "other");
  std::lock_guard<std::mutex> lock(seen.mu);
  ASSERT_NE(seen.peer, nullptr);
  EXPECT_EQ(seen.checked_peer, seen.peer);
  const tls::PeerIdentity& p = *seen.peer;
  EXPECT_TRUE(p.verified);
  EXPECT_EQ(p.common_name, "team-a");
  EXPECT_EQ(p.subject, "CN=team-a,O=Example");
  EXPECT_EQ(p.dns_names, std::vector<std::string>{"team-a.example"});
  EXPECT_EQ(p.uris, std::vector<std::string>{"spiffe://example/team-a"});
  EXPECT_EQ(p.emails, std::vector<std::string>{"team-a@example.com"});
  auto [rc, fp] = run("openssl x509 -in " + pki.client_cert +
                      " -noout -fingerprint -sha256 | cut -d= -f2 | tr -d ':\\n' | "
                      "tr A-F a-f");
  EXPECT_EQ(p.sha256_fingerprint, fp);
}

TEST(HttpServerTlsTest, OptionalClientCertificateIsVerifiedWhenGiven) {
  const TestPki& pki = TestPki::get();
  metrics::Registry m;
  Seen seen;
  tls::TlsServerSettings s;
  s.client_ca_file = pki.ca;
  s.client_auth = tls::ClientAuth::kVerifyClientCertIfGiven;
  HttpServerOptions o;
  o.metrics = &m;
  o.tls = serverContext(s, &m);
  auto srv = startServer(o, [&](const HttpRequest& req) {
    std::lock_guard<std::mutex> lock(seen.mu);
    seen.peer = req.peer;
    return HttpResponse::text(200, "ok");
  });
  EXPECT_EQ(TlsClient(srv->port(), {}).get("/").first, 200);
  {
    std::lock_guard<std::mutex> lock(seen.mu);
    EXPECT_EQ(seen.peer, nullptr);
  }
  ClientOptions stranger;
  stranger.cert = pki.other_client_cert;
  stranger.key = pki.other_client_key;
  EXPECT_EQ(TlsClient(srv->port(), stranger).get("/").first, 0);
}

TEST(HttpServerTlsTest, OldVersionsAreRefusedByDefault) {
  metrics::Registry m;
  HttpServerOptions o;
  o.metrics = &m;
  o.tls = serverContext({}, &m);
  auto srv = startServer(o);
  const std::string base = "openssl s_client -connect 127.0.0.1:" + std::to_string(srv->port()) +
                           " -CAfile " + TestPki::get().ca +
                           " -cipher DEFAULT@SECLEVEL=0 </dev/null ";
  for (const char* v : {"-tls1", "-tls1_1"}) {
    auto [rc, out] = run(base + v);
    EXPECT_NE(rc, 0) << v << "\n" << out;
  }
  EXPECT_TRUE(waitFor([&] { return failures(m, "protocol_version") == 2; }))
      << failures(m, "protocol_version") << " other " << failures(m, "other");
  auto [rc12, out12] = run(base + "-tls1_2");
  EXPECT_EQ(rc12, 0) << out12;
  EXPECT_NE(out12.find("Protocol  : TLSv1.2"), std::string::npos) << out12;
  auto [rc13, out13] = run(base + "-tls1_3");
  EXPECT_EQ(rc13, 0) << out13;
  EXPECT_NE(out13.find("TLSv1.3"), std::string::npos) << out13;
}

TEST(HttpServerTlsTest, ConfiguredVersionsAndCipherSuiteAreNegotiated) {
  metrics::Registry m;
  tls::TlsServerSettings s;
  s.min_version = "1.1";
  s.max_version = "1.2";
  s.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"};
  HttpServerOptions o;
  o.metrics = &m;
  o.tls = serverContext(s, &m);
  auto srv = startServer(o);
  TlsClient client(srv->port(), {});
  ASSERT_EQ(client.get("/").first, 200);
  EXPECT_STREQ(SSL_get_version(client.ssl()), "TLSv1.2");
  EXPECT_STREQ(SSL_get_cipher_name(client.ssl()), "ECDHE-ECDSA-AES256-GCM-SHA384");
  ClientOptions other;
  other.max_version = TLS1_2_VERSION;
  other.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  EXPECT_FALSE(TlsClient(srv->port(), other).handshakeOk());
  EXPECT_TRUE(waitFor([&] { return failures(m, "no_shared_cipher") == 1; }))
      << failures(m, "no_shared_cipher") << " other " << failures(m, "other");
  ClientOptions tls11;
  tls11.max_version = TLS1_1_VERSION;
  tls11.ciphers = "ECDHE-ECDSA-AES256-SHA";
  s.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"};
  auto srv11 = startServer([&] {
    HttpServerOptions o11;
    o11.metrics = &m;
    o11.name = "tls11";
    o11.tls = serverContext(s, &m);
    return o11;
  }());
  TlsClient old(srv11->port(), tls11);
  EXPECT_EQ(old.get("/").first, 200);  // min_version "1.1" was asked for
  EXPECT_STREQ(SSL_get_version(old.ssl()), "TLSv1.1");
}

TEST(HttpServerTlsTest, AlpnSelectsHttp11) {
  metrics::Registry m;
  tls::TlsServerSettings s;
  s.alpn = {"http/1.1"};
  HttpServerOptions o;
  o.metrics = &m;
  o.tls = serverContext(s, &m);
  auto srv = startServer(o);
  ClientOptions both;
  both.alpn = std::string("\x02h2\x08http/1.1", 12);
  TlsClient c(srv->port(), both);
  EXPECT_EQ(c.get("/").first, 200);
  EXPECT_EQ(c.alpn(), "http/1.1");
  ClientOptions h2;
  h2.alpn = std::string("\x02h2", 3);
  TlsClient c2(srv->port(), h2);
  EXPECT_EQ(c2.get("/").first, 200);  // no protocol in common: no ALPN, HTTP/1.1 anyway
  EXPECT_EQ(c2.alpn(), "");
}

TEST(HttpServerTlsTest, RotationKeepsOpenConnectionsAndNewHandshakesSeeTheNewCertificate) {
  const TestPki& pki = TestPki::get();
  char tmpl[] = "/tmp/telegate_tls_rot_XXXXXX";
  const std::string tmp = mkdtemp(tmpl);
  KubeletDir dir(tmp + "/secret");
  dir.swap({{"tls.crt", readAll(pki.server_cert)}, {"tls.key", readAll(pki.server_key)}});
  metrics::Registry m;
  tls::TlsServerSettings s;
  s.cert_file = dir.path("tls.crt");
  s.key_file = dir.path("tls.key");
  HttpServerOptions o;
  o.metrics = &m;
  o.tls = serverContext(s, &m);
  o.tls->stop();  // driven by hand below
  auto srv = startServer(o);
  TlsClient before(srv->port(), {});
  ASSERT_EQ(before.get("/1").first, 200);
  EXPECT_EQ(before.serverCn(), "server");

  dir.swap({{"tls.crt", readAll(pki.server2_cert)}, {"tls.key", readAll(pki.server2_key)}});
  ASSERT_TRUE(o.tls->reloadIfChanged());
  EXPECT_EQ(before.get("/2").first, 200);  // not cut
  TlsClient after(srv->port(), {});
  EXPECT_EQ(after.get("/3").first, 200);
  EXPECT_EQ(after.serverCn(), "server2");

  // A broken pair is refused; new handshakes keep getting the last good certificate.
  dir.swap({{"tls.crt", readAll(pki.server_cert)}, {"tls.key", readAll(pki.server2_key)}});
  EXPECT_FALSE(o.tls->reloadIfChanged());
  TlsClient still(srv->port(), {});
  EXPECT_EQ(still.get("/4").first, 200);
  EXPECT_EQ(still.serverCn(), "server2");
  EXPECT_EQ(before.get("/5").first, 200);
  std::filesystem::remove_all(tmp);
}

TEST(HttpServerTlsTest, SilentClientIsShedAtHeaderTimeout) {
  metrics::Registry m;
  HttpServerOptions o;
  o.metrics = &m;
  o.header_timeout = 300ms;
  o.tls = serverContext({}, &m);
  auto srv = startServer(o);
  Conn silent(srv->port());
  ASSERT_TRUE(silent.connected());
  const auto start = Clock::now();
  EXPECT_TRUE(silent.waitClosed());
  EXPECT_LT(Clock::now() - start, 3s);
  auto shed = [&] {
    return m.counter("telegate_http_server_connections_shed_total", "", {"server", "reason"})
        .with({"http", "header_timeout"})
        .value();
  };
  EXPECT_TRUE(waitFor([&] { return shed() == 1; })) << shed();
  EXPECT_EQ(failures(m, "other") + failures(m, "eof"), 0);
  EXPECT_TRUE(waitFor([&] { return srv->openConnections() == 0; }));
}

TEST(HttpServerTlsTest, SessionsResume) {
  metrics::Registry m;
  HttpServerOptions o;
  o.metrics = &m;
  o.tls = serverContext({}, &m);
  auto srv = startServer(o);
  for (int v : {TLS1_2_VERSION, TLS1_3_VERSION, 0}) {
    SCOPED_TRACE(v);
    ClientOptions co;
    co.max_version = v == 0 ? TLS1_2_VERSION : v;
    co.no_tickets = v == 0;
    SSL_SESSION* session = nullptr;
    {
      TlsClient first(srv->port(), co);
      ASSERT_EQ(first.get("/").first, 200);  // TLS 1.3 tickets arrive with the first response
      session = SSL_get1_session(first.ssl());
    }
    ASSERT_NE(session, nullptr);
    co.session = session;
    TlsClient second(srv->port(), co);
    EXPECT_EQ(second.get("/").first, 200);
    EXPECT_EQ(SSL_session_reused(second.ssl()), 1);
    SSL_SESSION_free(session);
  }
  EXPECT_EQ(handshakes(m, "true"), 3);
  EXPECT_EQ(handshakes(m, "false"), 3);
}

TEST(HttpServerTlsTest, TlsStateIsChargedToTheMemoryBudget) {
  metrics::Registry m;
  MemoryBudget budget(64u << 10);  // less than one TLS connection's state
  HttpServerOptions o;
  o.metrics = &m;
  o.memory_budget = &budget;
  o.tls = serverContext({}, &m);
  auto srv = startServer(o);
  EXPECT_FALSE(TlsClient(srv->port(), {}).handshakeOk());
  EXPECT_EQ(m.counter("telegate_http_server_connections_shed_total", "", {"server", "reason"})
                .with({"http", "memory_limit"})
                .value(),
            1);
  EXPECT_TRUE(waitFor([&] { return srv->openConnections() == 0; }));
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace telegate::net
