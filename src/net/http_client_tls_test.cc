// net::HttpClient over TLS against a loopback server that requires and verifies a client
// certificate (tls_test_server.h), with certificates made by the openssl command line.
#include <gtest/gtest.h>

#include <filesystem>

#include "src/net/client_tls.h"
#include "src/net/curl_tls.h"
#include "src/net/http_client.h"
#include "src/net/tls/tls_test_util.h"
#include "src/net/tls_test_server.h"

namespace telegate::net {
namespace {

using testing::TlsTestServer;
using tls::testing::KubeletDir;
using tls::testing::readAll;
using tls::testing::TestPki;

TlsTestServer::Options mtlsServer(int max_version = 0) {
  const auto& pki = TestPki::get();
  return {pki.server_cert, pki.server_key, pki.ca, max_version};
}

tls::TlsClientSettings clientSettings() {
  const auto& pki = TestPki::get();
  tls::TlsClientSettings s;
  s.ca_file = pki.ca;
  s.cert_file = pki.client_cert;
  s.key_file = pki.client_key;
  return s;
}

absl::StatusOr<HttpClientResponse> get(HttpClient& c, const std::string& url) {
  HttpClientRequest r;
  r.method = "GET";
  r.url = url;
  r.timeout = std::chrono::milliseconds(5000);
  return c.send(r);
}

HttpClientOptions withTls(tls::TlsClientSettings s) {
  HttpClientOptions o;
  o.tls = std::move(s);
  return o;
}

TEST(HttpClientTlsTest, TrustedCaAndClientCertificate) {
  TlsTestServer server(mtlsServer());
  HttpClient client(withTls(clientSettings()));
  auto r = get(client, server.url());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "team-a");  // the server verified the client certificate
}

TEST(HttpClientTlsTest, PemValues) {
  const auto& pki = TestPki::get();
  tls::TlsClientSettings s;
  s.ca_pem = readAll(pki.ca);
  s.cert_pem = readAll(pki.client_cert);
  s.key_pem = readAll(pki.client_key);
  TlsTestServer server(mtlsServer());
  HttpClient client(withTls(s));
  auto r = get(client, server.url());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "team-a");
}

TEST(HttpClientTlsTest, UntrustedCaFails) {
  const auto& pki = TestPki::get();
  TlsTestServer server(mtlsServer());
  auto s = clientSettings();
  s.ca_file = pki.other_ca;
  HttpClient client(withTls(s));
  auto r = get(client, server.url());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  s.ca_file.clear();  // the system roots do not know the test CA either
  HttpClient system_roots(withTls(s));
  EXPECT_FALSE(get(system_roots, server.url()).ok());
}

TEST(HttpClientTlsTest, InsecureSkipVerify) {
  TlsTestServer server(mtlsServer());
  auto s = clientSettings();
  s.ca_file = TestPki::get().other_ca;
  s.insecure_skip_verify = true;
  HttpClient client(withTls(s));
  auto r = get(client, server.url());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "team-a");
}

TEST(HttpClientTlsTest, NoClientCertificateIsRefused) {
  TlsTestServer server(mtlsServer());
  auto s = clientSettings();
  s.cert_file.clear();
  s.key_file.clear();
  HttpClient client(withTls(s));
  EXPECT_FALSE(get(client, server.url()).ok());
}

TEST(HttpClientTlsTest, ServerNameIsSniAndVerifiedName) {
  TlsTestServer server(mtlsServer());
  auto s = clientSettings();
  s.server_name = "wrong.example";  // not in the server certificate
  HttpClient wrong(withTls(s));
  EXPECT_FALSE(get(wrong, server.url("/a")).ok());

  s.server_name = "localhost";  // a SAN of the server certificate; the URL says 127.0.0.1
  HttpClient right(withTls(s));
  auto r = get(right, server.url("/b"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "team-a");
  auto hs = server.handshakes();
  ASSERT_FALSE(hs.empty());
  EXPECT_EQ(hs.back().sni, "localhost");
  // The Host header stays the URL's authority.
  ASSERT_FALSE(server.hosts().empty());
  EXPECT_EQ(server.hosts().back(), "127.0.0.1:" + std::to_string(server.port()));
}

TEST(HttpClientTlsTest, MinAndMaxVersion) {
  TlsTestServer tls12(mtlsServer(TLS1_2_VERSION));
  auto s = clientSettings();
  s.min_version = "1.3";
  HttpClient needs13(withTls(s));
  EXPECT_FALSE(get(needs13, tls12.url()).ok());
  s.min_version = "1.2";
  s.max_version = "1.2";
  s.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"};
  HttpClient ok(withTls(s));
  auto r = get(ok, tls12.url());
  ASSERT_TRUE(r.ok()) << r.status();
  s.cipher_suites = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"};  // the server's key is EC
  HttpClient no_common_cipher(withTls(s));
  EXPECT_FALSE(get(no_common_cipher, tls12.url()).ok());
}

// TLS 1.0 and 1.1 are refused unless min_version asks for them.
TEST(HttpClientTlsTest, OldVersionsOnlyWhenAskedFor) {
  const auto& pki = TestPki::get();
  TlsTestServer tls11({pki.server_cert, pki.server_key, pki.ca, TLS1_1_VERSION, TLS1_1_VERSION});
  auto s = clientSettings();
  HttpClient by_default(withTls(s));
  EXPECT_FALSE(get(by_default, tls11.url()).ok());
  s.min_version = "1.1";
  HttpClient asked(withTls(s));
  auto r = get(asked, tls11.url());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "team-a");
}

TEST(HttpClientTlsTest, BadSettingsFailEverySend) {
  auto s = clientSettings();
  s.min_version = "1.4";
  HttpClient client(withTls(s));
  auto r = get(client, "https://127.0.0.1:1/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("min_version"), std::string_view::npos) << r.status();
}

TEST(HttpClientTlsTest, SystemPoolPlusConfiguredCa) {
  TlsTestServer server(mtlsServer());
  auto s = clientSettings();
  s.include_system_ca_certs_pool = true;
  HttpClient client(withTls(s));
  auto r = get(client, server.url());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "team-a");
}

// kubelet swaps the Secret's files; the next new connection presents the new certificate, while
// without a change the pooled connection is reused.
TEST(HttpClientTlsTest, RotatedClientCertificateOnNextConnection) {
  const auto& pki = TestPki::get();
  auto team_b = testing::makeClientCert(pki.dir, pki.ca, pki.ca_key, "team-b");
  ASSERT_FALSE(team_b.first.empty());
  KubeletDir dir(pki.dir + "/rotating-client");
  dir.swap({{"tls.crt", readAll(pki.client_cert)}, {"tls.key", readAll(pki.client_key)}});
  TlsTestServer server(mtlsServer());
  auto s = clientSettings();
  s.cert_file = dir.path("tls.crt");
  s.key_file = dir.path("tls.key");
  auto o = withTls(s);
  o.tls_files_check_period = std::chrono::milliseconds(0);
  HttpClient client(o);
  for (int i = 0; i < 2; ++i) {
    auto r = get(client, server.url());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->body, "team-a");
  }
  EXPECT_EQ(server.handshakes().size(), 1u);  // one connection, reused
  dir.swap({{"tls.crt", readAll(team_b.first)}, {"tls.key", readAll(team_b.second)}});
  auto r = get(client, server.url());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "team-b");
  auto hs = server.handshakes();
  ASSERT_EQ(hs.size(), 2u);
  EXPECT_FALSE(hs.back().resumed);  // a full handshake, not the old session
}

TEST(ClientTlsTest, FileWatchCountsContentChangesAtMostOncePerPeriod) {
  const auto& pki = TestPki::get();
  KubeletDir dir(pki.dir + "/watched");
  dir.swap({{"tls.crt", "one"}});
  tls::TlsClientSettings s;
  s.cert_file = dir.path("tls.crt");
  auto now = std::chrono::steady_clock::time_point{};
  TlsFileWatch w(s, std::chrono::seconds(1), [&] { return now; });
  EXPECT_EQ(w.generation(), 0u);
  dir.swap({{"tls.crt", "two"}});
  EXPECT_EQ(w.generation(), 0u);  // not yet due
  now += std::chrono::seconds(1);
  EXPECT_EQ(w.generation(), 1u);
  now += std::chrono::seconds(1);
  EXPECT_EQ(w.generation(), 1u);  // unchanged content
  dir.swap({{"tls.crt", "two"}});
  EXPECT_EQ(w.checkNow(), 1u);  // same content under a new version directory
}

TEST(ClientTlsTest, LoadPemChecksThePair) {
  const auto& pki = TestPki::get();
  tls::TlsClientSettings s;
  s.ca_file = pki.ca;
  s.cert_file = pki.client_cert;
  s.key_file = pki.client_key;
  auto ok = loadClientTlsPem(s);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->cert, readAll(pki.client_cert));
  s.key_file = pki.server_key;
  auto bad = loadClientTlsPem(s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("does not belong"), std::string_view::npos);
  s.key_file = pki.dir + "/missing.key";
  bad = loadClientTlsPem(s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("missing.key"), std::string_view::npos);
}

TEST(CurlTlsTest, ServerNameRewrite) {
  std::string url, connect_to, authority;
  ASSERT_TRUE(CurlTls::rewriteForServerName("https://10.0.0.1:8443/api?x=1", "api.example", &url,
                                            &connect_to, &authority)
                  .ok());
  EXPECT_EQ(url, "https://api.example:8443/api?x=1");
  EXPECT_EQ(connect_to, "api.example:8443:10.0.0.1:8443");
  EXPECT_EQ(authority, "10.0.0.1:8443");
  ASSERT_TRUE(
      CurlTls::rewriteForServerName("https://[::1]/x", "api.example", &url, &connect_to, &authority)
          .ok());
  EXPECT_EQ(url, "https://api.example/x");
  EXPECT_EQ(connect_to, "api.example:443:[::1]:443");
  EXPECT_EQ(authority, "[::1]");
  ASSERT_TRUE(CurlTls::rewriteForServerName("http://10.0.0.1/x", "api.example", &url, &connect_to,
                                            &authority)
                  .ok());
  EXPECT_EQ(url, "http://10.0.0.1/x");  // plain HTTP: nothing to do
  EXPECT_EQ(connect_to, "");
}

}  // namespace
}  // namespace telegate::net
