// The Kubernetes client over TLS against a loopback API server stand-in that requires and
// verifies a client certificate (src/net/tls_test_server.h); certificates from the openssl CLI.
#include <gtest/gtest.h>

#include "src/k8s/client.h"
#include "src/k8s/config.h"
#include "src/net/tls/tls_test_util.h"
#include "src/net/tls_test_server.h"

namespace telegate::k8s {
namespace {

using net::testing::TlsTestServer;
using net::tls::testing::KubeletDir;
using net::tls::testing::readAll;
using net::tls::testing::TestPki;

TlsTestServer::Options apiServer() {
  const auto& pki = TestPki::get();
  return {pki.server_cert, pki.server_key, pki.ca, 0};
}

Config tlsConfig(const TlsTestServer& s) {
  const auto& pki = TestPki::get();
  Config c;
  c.server = "https://127.0.0.1:" + std::to_string(s.port());
  c.tls.ca_file = pki.ca;
  c.tls.cert_file = pki.client_cert;
  c.tls.key_file = pki.client_key;
  return c;
}

absl::StatusOr<Response> get(Client& c) {
  return c.get("/api/v1/pods", nullptr, std::chrono::seconds(5));
}

TEST(ClientTlsTest, ClientCertificateAndCa) {
  TlsTestServer server(apiServer());
  Client client(tlsConfig(server));
  auto r = get(client);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "team-a");
}

TEST(ClientTlsTest, UntrustedCaFailsAndInsecureSkipVerifyPasses) {
  TlsTestServer server(apiServer());
  Config c = tlsConfig(server);
  c.tls.ca_file = TestPki::get().other_ca;
  Client untrusted(c);
  auto r = get(untrusted);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  c.tls.insecure_skip_verify = true;
  Client skip(c);
  r = get(skip);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "team-a");
}

TEST(ClientTlsTest, ServerNameAndMinVersion) {
  TlsTestServer server(apiServer());
  Config c = tlsConfig(server);
  c.tls.server_name = "kubernetes.default.svc";  // not in the certificate
  Client wrong(c);
  EXPECT_FALSE(get(wrong).ok());
  c.tls.server_name = "localhost";
  Client right(c);
  auto r = get(right);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(server.handshakes().back().sni, "localhost");
  c.tls.min_version = "1.5";
  Client bad(c);
  r = get(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

// kubeconfig: certificate-authority-data, client-certificate-data/client-key-data and
// tls-server-name all reach the connection.
TEST(ClientTlsTest, KubeconfigTlsFields) {
  const auto& pki = TestPki::get();
  TlsTestServer server(apiServer());
  auto b64 = [](const std::string& path) {
    std::string cmd = "base64 -w0 '" + path + "'";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
  };
  std::string yaml =
      "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
      "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:" +
      std::to_string(server.port()) + "\n    certificate-authority-data: " + b64(pki.ca) +
      "\n    tls-server-name: localhost\n" +
      "users:\n- name: u\n  user:\n    client-certificate-data: " + b64(pki.client_cert) +
      "\n    client-key-data: " + b64(pki.client_key) +
      "\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n";
  auto cfg = parseKubeconfig(yaml, "/");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->tls.server_name, "localhost");
  Client client(*cfg);
  auto r = get(client);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "team-a");
  EXPECT_EQ(server.handshakes().back().sni, "localhost");
}

TEST(ClientTlsTest, RotatedClientCertificateOnNextRequest) {
  const auto& pki = TestPki::get();
  auto team_b = net::testing::makeClientCert(pki.dir, pki.ca, pki.ca_key, "team-b");
  ASSERT_FALSE(team_b.first.empty());
  KubeletDir dir(pki.dir + "/k8s-rotating-client");
  dir.swap({{"tls.crt", readAll(pki.client_cert)}, {"tls.key", readAll(pki.client_key)}});
  TlsTestServer server(apiServer());
  Config c = tlsConfig(server);
  c.tls.cert_file = dir.path("tls.crt");
  c.tls.key_file = dir.path("tls.key");
  Client client(c);
  auto r = get(client);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "team-a");
  dir.swap({{"tls.crt", readAll(team_b.first)}, {"tls.key", readAll(team_b.second)}});
  r = get(client);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "team-b");
}

}  // namespace
}  // namespace telegate::k8s
