// The OTLP/gRPC server over TLS and mutual TLS (grpc_tls.h): handshakes, the client certificate
// identity handed to authentication, rotation through kubelet's symlink swap, and the settings
// gRPC cannot serve.
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/auth_context.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "src/components/otelcol/receiver/otlp/grpc_receiver.h"
#include "src/components/otelcol/receiver/otlp/grpc_tls.h"
#include "src/components/otelcol/receiver/otlp/receiver_tls_testing.h"
#include "test/fakes/test_certs.h"

namespace telegate::otelcol::receiver_otlp {
namespace {

using testing::CountingDispatcher;
using testing::RecordingAuth;

namespace trace_svc = opentelemetry::proto::collector::trace::v1;
using namespace std::chrono_literals;
using telegate::testing::CertSpec;
using telegate::testing::TempDir;
using telegate::testing::TestCa;
using telegate::testing::TestKeyPair;

struct CallResult {
  grpc::Status status;
  std::string server_cert;  // PEM of the certificate the server presented
};

std::shared_ptr<grpc::Channel> tlsChannel(const std::string& addr, const std::string& roots,
                                          const TestKeyPair* client, int idx) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = roots;
  if (client != nullptr) {
    ssl.pem_private_key = client->key_pem;
    ssl.pem_cert_chain = client->cert_pem;
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetInt("telegate.test.channel", idx);  // distinct arguments: a connection of its own
  return grpc::CreateCustomChannel(addr, grpc::SslCredentials(ssl), args);
}

CallResult exportOn(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = trace_svc::TraceService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  trace_svc::ExportTraceServiceRequest req;
  req.add_resource_spans()->add_scope_spans()->add_spans()->set_name("s");
  trace_svc::ExportTraceServiceResponse resp;
  CallResult r;
  r.status = stub->Export(&ctx, req, &resp);
  if (auto auth = ctx.auth_context()) {
    auto pem = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pem.empty()) r.server_cert.assign(pem[0].data(), pem[0].size());
  }
  return r;
}

std::string sha256Hex(const std::string& cert_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(x, EVP_sha256(), md, &len);
  X509_free(x);
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

class GrpcTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestKeyPair server = ca_.issueServer();
    server_cert_ = server.cert_pem;
    settings_.cert_file = dir_.write("server.crt", server.cert_pem);
    settings_.key_file = dir_.write("server.key", server.key_pem);
  }
  void start(std::shared_ptr<AuthHandler> auth = nullptr) {
    auto tls = GrpcServerTls::create(settings_, "test/grpc", log::Logger(), &registry_);
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *std::move(tls);
    GrpcReceiverOptions opts;
    opts.endpoint = "127.0.0.1:0";
    opts.completion_threads = 2;
    opts.tls = tls_;
    AuthProvider provider;
    if (auth) provider = [auth] { return auth; };
    receiver_ = std::make_unique<GrpcReceiver>(std::move(opts), dispatcher_, provider);
    ASSERT_TRUE(receiver_->start().ok());
  }
  void TearDown() override {
    if (receiver_) receiver_->stop(std::chrono::steady_clock::now() + 1s);
    receiver_.reset();
    tls_.reset();
  }
  std::string addr() const { return receiver_->boundAddress(); }

  TestCa ca_{"test-ca"};
  TestCa other_ca_{"other-ca"};
  TempDir dir_;
  std::string server_cert_;
  net::tls::TlsServerSettings settings_;
  metrics::Registry registry_;
  CountingDispatcher dispatcher_;
  std::shared_ptr<GrpcServerTls> tls_;
  std::unique_ptr<GrpcReceiver> receiver_;
};

TEST_F(GrpcTlsTest, ServesClientsThatTrustTheCa) {
  auto auth = std::make_shared<RecordingAuth>();
  start(auth);
  CallResult ok = exportOn(tlsChannel(addr(), ca_.certPem(), nullptr, 1));
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_EQ(ok.server_cert, server_cert_);
  // No client certificate is asked for without client_ca_file: authentication sees no peer.
  EXPECT_EQ(auth->calls, 1);
  EXPECT_EQ(auth->peer, nullptr);
  // A client trusting another CA, and a plaintext client, fail.
  EXPECT_EQ(exportOn(tlsChannel(addr(), other_ca_.certPem(), nullptr, 2)).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(
      exportOn(grpc::CreateChannel(addr(), grpc::InsecureChannelCredentials())).status.ok());
  EXPECT_EQ(dispatcher_.calls.load(), 1);
  // The staging directory is private and goes away with the server.
  struct stat st {};
  std::string staging = tls_->stagingDir();
  ASSERT_EQ(::stat(staging.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  receiver_->stop(std::chrono::steady_clock::now());
  receiver_.reset();
  tls_.reset();
  EXPECT_FALSE(std::filesystem::exists(staging));
}

TEST_F(GrpcTlsTest, MutualTlsRefusesBadClientsAtTheHandshakeAndPassesTheIdentity) {
  settings_.client_ca_file = dir_.write("client-ca.crt", ca_.certPem());
  settings_.client_auth = net::tls::ClientAuth::kRequireAndVerifyClientCert;
  auto auth = std::make_shared<RecordingAuth>();
  start(auth);
  CertSpec spec;
  spec.common_name = "team-a";
  spec.dns = {"team-a.example.com"};
  spec.uris = {"spiffe://example.com/ns/a/sa/exporter"};
  spec.emails = {"ops@example.com"};
  TestKeyPair good = ca_.issue(spec);
  TestKeyPair foreign = other_ca_.issue(spec);
  spec.not_before_seconds = -7200;
  spec.not_after_seconds = -3600;
  TestKeyPair expired = ca_.issue(spec);

  EXPECT_FALSE(exportOn(tlsChannel(addr(), ca_.certPem(), nullptr, 1)).status.ok());
  EXPECT_FALSE(exportOn(tlsChannel(addr(), ca_.certPem(), &foreign, 2)).status.ok());
  EXPECT_FALSE(exportOn(tlsChannel(addr(), ca_.certPem(), &expired, 3)).status.ok());
  EXPECT_EQ(auth->calls, 0);  // refused before any call
  EXPECT_EQ(dispatcher_.calls.load(), 0);

  CallResult ok = exportOn(tlsChannel(addr(), ca_.certPem(), &good, 4));
  ASSERT_TRUE(ok.status.ok()) << ok.status.error_message();
  std::lock_guard<std::mutex> l(auth->mu);
  ASSERT_NE(auth->peer, nullptr);
  const net::tls::PeerIdentity& p = *auth->peer;
  EXPECT_TRUE(p.verified);
  EXPECT_EQ(p.common_name, "team-a");
  EXPECT_EQ(p.subject, "CN=team-a,O=telegate tests");
  EXPECT_EQ(p.dns_names, std::vector<std::string>{"team-a.example.com"});
  EXPECT_EQ(p.uris, std::vector<std::string>{"spiffe://example.com/ns/a/sa/exporter"});
  EXPECT_EQ(p.emails, std::vector<std::string>{"ops@example.com"});
  EXPECT_EQ(p.sha256_fingerprint, sha256Hex(good.cert_pem));
}

TEST_F(GrpcTlsTest, ServesPemSettings) {
  TestKeyPair server = ca_.issueServer();
  settings_.cert_file.clear();
  settings_.key_file.clear();
  settings_.cert_pem = server.cert_pem;
  settings_.key_pem = server.key_pem;
  settings_.client_ca_pem = ca_.certPem();
  settings_.client_auth = net::tls::ClientAuth::kRequireAndVerifyClientCert;
  start();
  CertSpec spec;
  spec.common_name = "client";
  TestKeyPair client = ca_.issue(spec);
  CallResult ok = exportOn(tlsChannel(addr(), ca_.certPem(), &client, 1));
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_EQ(ok.server_cert, server.cert_pem);
  EXPECT_FALSE(exportOn(tlsChannel(addr(), ca_.certPem(), nullptr, 2)).status.ok());
}

// Waits until a new connection is served `cert`; false after 10 s.
bool newConnectionsGet(const std::string& addr, const std::string& roots, const std::string& cert,
                       int* idx) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    CallResult r = exportOn(tlsChannel(addr, roots, nullptr, ++*idx));
    if (r.status.ok() && r.server_cert == cert) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

TEST_F(GrpcTlsTest, RotatesOnKubeletSymlinkSwapAndKeepsServingWhenTheNewPairIsBroken) {
  TempDir secret;  // a mounted Secret: tls.crt -> ..data/tls.crt, ..data -> ..gen_N
  TestKeyPair a = ca_.issueServer(), b = ca_.issueServer(), c = ca_.issueServer();
  secret.swapDataDir({{"tls.crt", a.cert_pem}, {"tls.key", a.key_pem}});
  settings_.cert_file = secret.file("tls.crt");
  settings_.key_file = secret.file("tls.key");
  start();
  int idx = 0;
  auto kept = tlsChannel(addr(), ca_.certPem(), nullptr, ++idx);  // a long-lived connection
  CallResult first = exportOn(kept);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.server_cert, a.cert_pem);

  secret.swapDataDir({{"tls.crt", b.cert_pem}, {"tls.key", b.key_pem}});
  tls_->context().reloadIfChanged();  // the watcher's step, without waiting for it
  tls_->publishIfChanged();
  EXPECT_TRUE(newConnectionsGet(addr(), ca_.certPem(), b.cert_pem, &idx));
  // The connection made before the swap was not cut and keeps its handshake.
  CallResult again = exportOn(kept);
  EXPECT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_EQ(again.server_cert, a.cert_pem);

  // A certificate with another pair's key is refused; the previous pair keeps serving.
  secret.swapDataDir({{"tls.crt", c.cert_pem}, {"tls.key", b.key_pem}});
  EXPECT_FALSE(tls_->context().reloadIfChanged());
  EXPECT_FALSE(tls_->publishIfChanged());
  std::this_thread::sleep_for(1500ms);  // longer than gRPC's 1 s file refresh
  CallResult still = exportOn(tlsChannel(addr(), ca_.certPem(), nullptr, ++idx));
  EXPECT_TRUE(still.status.ok()) << still.status.error_message();
  EXPECT_EQ(still.server_cert, b.cert_pem);
  EXPECT_NE(registry_.exposition().find("result=\"error\""), std::string::npos)
      << registry_.exposition();
}

TEST_F(GrpcTlsTest, LoadFailuresNameTheFile) {
  settings_.cert_file = dir_.file("missing.crt");
  auto t = GrpcServerTls::create(settings_, "test/grpc", log::Logger(), &registry_);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(std::string(t.status().message()).find(dir_.file("missing.crt")), std::string::npos)
      << t.status();
  // A certificate with the key of another pair.
  settings_.cert_file = dir_.write("other.crt", ca_.issueServer().cert_pem);
  t = GrpcServerTls::create(settings_, "test/grpc", log::Logger(), &registry_);
  EXPECT_FALSE(t.ok());
}

TEST(GrpcTlsSettings, RefusesWhatGrpcCannotServe) {
  net::tls::TlsServerSettings s;
  EXPECT_TRUE(checkGrpcTlsSettings(s).ok());
  s.min_version = "1.2";
  s.max_version = "1.3";
  EXPECT_TRUE(checkGrpcTlsSettings(s).ok());
  s.min_version = "1.3";
  EXPECT_EQ(checkGrpcTlsSettings(s).message(),
            "min_version \"1.3\" is not supported on the gRPC server: gRPC 1.51 always accepts "
            "TLS 1.2 and 1.3; leave min_version unset or set it to \"1.2\"");
  s.min_version = "1.0";
  EXPECT_FALSE(checkGrpcTlsSettings(s).ok());
  s.min_version = "";
  s.max_version = "1.2";
  EXPECT_EQ(checkGrpcTlsSettings(s).message(),
            "max_version \"1.2\" is not supported on the gRPC server: gRPC 1.51 always offers "
            "TLS 1.3; leave max_version unset or set it to \"1.3\"");
  s.max_version = "";
  s.cipher_suites = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"};
  EXPECT_EQ(checkGrpcTlsSettings(s).message(),
            "cipher_suites is not supported on the gRPC server: gRPC 1.51 uses its own cipher "
            "suites; remove it (the HTTP server supports it)");
  s.cipher_suites.clear();
  s.curve_preferences = {"X25519"};
  EXPECT_FALSE(checkGrpcTlsSettings(s).ok());
}

}  // namespace
}  // namespace telegate::otelcol::receiver_otlp
