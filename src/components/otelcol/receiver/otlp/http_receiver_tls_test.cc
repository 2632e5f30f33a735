// The OTLP/HTTP receiver over TLS and mutual TLS: handshakes with an OpenSSL client, ALPN, the
// client certificate identity handed to authentication, and rotation of the serving certificate.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "src/components/otelcol/receiver/otlp/http_receiver.h"
#include "src/components/otelcol/receiver/otlp/receiver_tls_testing.h"
#include "test/fakes/test_certs.h"
#include "test/fakes/tls_client.h"

namespace telegate::otelcol::receiver_otlp {
namespace {

using testing::CountingDispatcher;
using testing::RecordingAuth;

using telegate::testing::CertSpec;
using telegate::testing::Exchange;
using telegate::testing::TempDir;
using telegate::testing::TestCa;
using telegate::testing::TestKeyPair;
using telegate::testing::tlsExchange;
namespace trace_pb = opentelemetry::proto::collector::trace::v1;

std::string tracesRequest() {
  trace_pb::ExportTraceServiceRequest req;
  req.add_resource_spans()->add_scope_spans()->add_spans()->set_name("span");
  std::string body = req.SerializeAsString();
  return "POST /v1/traces HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-protobuf\r\n"
         "Connection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

bool isOk(const Exchange& e) {
  return e.response.rfind("HTTP/1.1 200 ", 0) == 0;
}

class HttpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestKeyPair server = ca_.issueServer();
    server_cert_ = server.cert_pem;
    settings_.cert_file = dir_.write("server.crt", server.cert_pem);
    settings_.key_file = dir_.write("server.key", server.key_pem);
    settings_.alpn = {"http/1.1"};
  }
  void start() {
    auto ctx = net::tls::TlsServerContext::create(settings_, "test/http", &registry_);
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    ctx_ = *ctx;
    HttpReceiverOptions opts;
    opts.endpoint = "127.0.0.1:0";
    opts.tls = ctx_;
    rx_ = std::make_unique<HttpReceiver>(opts, dispatcher_, [this] { return auth_; });
    ASSERT_TRUE(rx_->start().ok());
    const std::string addr = rx_->boundAddress();
    port_ = static_cast<uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
  }
  void TearDown() override {
    if (rx_) rx_->stop();
  }

  TestCa ca_{"test-ca"};
  TestCa other_ca_{"other-ca"};
  TempDir dir_;
  std::string server_cert_;
  net::tls::TlsServerSettings settings_;
  metrics::Registry registry_;
  CountingDispatcher dispatcher_;
  std::shared_ptr<RecordingAuth> auth_ = std::make_shared<RecordingAuth>();
  std::shared_ptr<net::tls::TlsServerContext> ctx_;
  std::unique_ptr<HttpReceiver> rx_;
  uint16_t port_ = 0;
};

TEST_F(HttpTlsTest, ServesOtlpToClientsThatTrustTheCa) {
  start();
  Exchange e = tlsExchange(port_, ca_.certPem(), nullptr, tracesRequest(), {"h2", "http/1.1"});
  ASSERT_TRUE(e.handshake);
  EXPECT_TRUE(isOk(e)) << e.response;
  EXPECT_EQ(e.alpn, "http/1.1");
  EXPECT_EQ(e.server_cert, server_cert_);
  EXPECT_EQ(auth_->calls, 1);
  EXPECT_EQ(auth_->peer, nullptr);  // no client certificate asked for
  // A client that does not trust the CA fails its handshake.
  EXPECT_FALSE(tlsExchange(port_, other_ca_.certPem(), nullptr, tracesRequest()).handshake);
  EXPECT_EQ(dispatcher_.calls.load(), 1);
}

TEST_F(HttpTlsTest, MutualTlsRefusesBadClientsAtTheHandshakeAndPassesTheIdentity) {
  settings_.client_ca_file = dir_.write("client-ca.crt", ca_.certPem());
  settings_.client_auth = net::tls::ClientAuth::kRequireAndVerifyClientCert;
  start();
  CertSpec spec;
  spec.common_name = "team-b";
  spec.dns = {"b.example.com"};
  spec.uris = {"spiffe://example.com/b"};
  spec.emails = {"b@example.com"};
  TestKeyPair good = ca_.issue(spec);
  TestKeyPair foreign = other_ca_.issue(spec);
  spec.not_before_seconds = -7200;
  spec.not_after_seconds = -3600;
  TestKeyPair expired = ca_.issue(spec);

  for (const TestKeyPair* bad : std::vector<const TestKeyPair*>{nullptr, &foreign, &expired}) {
    Exchange e = tlsExchange(port_, ca_.certPem(), bad, tracesRequest());
    EXPECT_EQ(e.response, "");  // no HTTP answer: the TLS layer refused the client
  }
  EXPECT_EQ(auth_->calls, 0);
  EXPECT_EQ(dispatcher_.calls.load(), 0);

  Exchange e = tlsExchange(port_, ca_.certPem(), &good, tracesRequest());
  EXPECT_TRUE(isOk(e)) << e.response;
  std::lock_guard<std::mutex> l(auth_->mu);
  ASSERT_NE(auth_->peer, nullptr);
  EXPECT_TRUE(auth_->peer->verified);
  EXPECT_EQ(auth_->peer->common_name, "team-b");
  EXPECT_EQ(auth_->peer->dns_names, std::vector<std::string>{"b.example.com"});
  EXPECT_EQ(auth_->peer->uris, std::vector<std::string>{"spiffe://example.com/b"});
  EXPECT_EQ(auth_->peer->emails, std::vector<std::string>{"b@example.com"});
}

TEST_F(HttpTlsTest, NewConnectionsGetARotatedCertificateAndABrokenPairIsRefused) {
  TempDir secret;
  TestKeyPair a = ca_.issueServer(), b = ca_.issueServer(), c = ca_.issueServer();
  secret.swapDataDir({{"tls.crt", a.cert_pem}, {"tls.key", a.key_pem}});
  settings_.cert_file = secret.file("tls.crt");
  settings_.key_file = secret.file("tls.key");
  start();
  EXPECT_EQ(tlsExchange(port_, ca_.certPem(), nullptr, tracesRequest()).server_cert, a.cert_pem);
  secret.swapDataDir({{"tls.crt", b.cert_pem}, {"tls.key", b.key_pem}});
  ctx_->reloadIfChanged();  // the watcher's step, without waiting for it
  Exchange after;
  for (int i = 0; i < 50; ++i) {  // the watcher may be publishing the same change: allow it 5 s
    after = tlsExchange(port_, ca_.certPem(), nullptr, tracesRequest());
    if (after.server_cert == b.cert_pem) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(isOk(after)) << after.response;
  EXPECT_EQ(after.server_cert, b.cert_pem);
  secret.swapDataDir({{"tls.crt", c.cert_pem}, {"tls.key", a.key_pem}});
  EXPECT_FALSE(ctx_->reloadIfChanged());
  EXPECT_EQ(tlsExchange(port_, ca_.certPem(), nullptr, tracesRequest()).server_cert, b.cert_pem);
}

}  // namespace
}  // namespace telegate::otelcol::receiver_otlp
