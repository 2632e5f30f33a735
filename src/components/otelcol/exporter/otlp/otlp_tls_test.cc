// otelcol.exporter.otlp over TLS: GrpcSender against a loopback gRPC server that requires and
// verifies a client certificate, with certificates made by the openssl command line.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <mutex>

#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "src/components/otelcol/exporter/otlp/otlp.h"
#include "src/net/tls/tls_test_util.h"
#include "src/net/tls_test_server.h"

namespace telegate::otelcol::exporter_otlp {
namespace {

using namespace std::chrono_literals;
using net::tls::testing::KubeletDir;
using net::tls::testing::readAll;
using net::tls::testing::TestPki;
namespace tracepb = opentelemetry::proto::collector::trace::v1;

// Records the verified client certificate's CN of every call.
class MtlsTempo : public tracepb::TraceService::Service {
 public:
  grpc::Status Export(grpc::ServerContext* ctx, const tracepb::ExportTraceServiceRequest*,
                      tracepb::ExportTraceServiceResponse*) override {
    std::string cn;
    for (const auto& v : ctx->auth_context()->FindPropertyValues("x509_common_name")) {
      cn.assign(v.data(), v.size());
    }
    std::lock_guard<std::mutex> l(mu_);
    cns_.push_back(cn);
    return grpc::Status::OK;
  }
  std::vector<std::string> cns() {
    std::lock_guard<std::mutex> l(mu_);
    return cns_;
  }
  std::unique_ptr<grpc::Server> serve(int* port) {
    const auto& pki = TestPki::get();
    grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    o.pem_root_certs = readAll(pki.ca);
    o.pem_key_cert_pairs.push_back({readAll(pki.server_key), readAll(pki.server_cert)});
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(o), port);
    b.RegisterService(this);
    return b.BuildAndStart();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> cns_;
};

pdata::Batch traces() {
  tracepb::ExportTraceServiceRequest req;
  req.add_resource_spans()->add_scope_spans()->add_spans()->set_name("s");
  pdata::Batch b;
  b.signal = pdata::Signal::kTraces;
  b.payload = req.SerializeAsString();
  b.items = 1;
  return b;
}

// Calls that should succeed wait for a ready connection (gRPC 1.51 can fail a loopback connect
// spuriously); those that should fail do not, so they fail at once with UNAVAILABLE.
GrpcClientBlock tlsClient(int port, bool expect_ok = true) {
  const auto& pki = TestPki::get();
  GrpcClientBlock c;
  c.endpoint = "127.0.0.1:" + std::to_string(port);
  c.wait_for_ready = expect_ok;
  c.tls.ca_file = pki.ca;
  c.tls.cert_file = pki.client_cert;
  c.tls.key_file = pki.client_key;
  return c;
}

absl::Status sendOne(GrpcSender& s) {
  pdata::Batch b = traces();
  return s.send(b, std::chrono::steady_clock::now() + 5s).status;
}

class OtlpGrpcTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = tempo_.serve(&port_);
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now() + 1s); }
  MtlsTempo tempo_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(OtlpGrpcTlsTest, TrustedCaAndClientCertificate) {
  GrpcSender s(tlsClient(port_), log::Logger());
  ASSERT_TRUE(sendOne(s).ok());
  EXPECT_EQ(tempo_.cns(), std::vector<std::string>{"team-a"});
}

TEST_F(OtlpGrpcTlsTest, PemValues) {
  const auto& pki = TestPki::get();
  GrpcClientBlock c = tlsClient(port_);
  c.tls.ca_file = c.tls.cert_file = c.tls.key_file = "";
  c.tls.ca_pem = readAll(pki.ca);
  c.tls.cert_pem = readAll(pki.client_cert);
  c.tls.key_pem.value = readAll(pki.client_key);
  GrpcSender s(c, log::Logger());
  ASSERT_TRUE(sendOne(s).ok());
  EXPECT_EQ(tempo_.cns(), std::vector<std::string>{"team-a"});
}

TEST_F(OtlpGrpcTlsTest, SystemPoolPlusConfiguredCa) {
  GrpcClientBlock c = tlsClient(port_);
  c.tls.include_system_ca_certs_pool = true;
  GrpcSender s(c, log::Logger());
  absl::Status st = sendOne(s);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(tempo_.cns(), std::vector<std::string>{"team-a"});
}

TEST_F(OtlpGrpcTlsTest, UntrustedCaFails) {
  GrpcClientBlock c = tlsClient(port_, false);
  c.tls.ca_file = TestPki::get().other_ca;
  GrpcSender s(c, log::Logger());
  absl::Status st = sendOne(s);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_TRUE(tempo_.cns().empty());
}

TEST_F(OtlpGrpcTlsTest, InsecureSkipVerify) {
  GrpcClientBlock c = tlsClient(port_);
  c.tls.ca_file = TestPki::get().other_ca;
  c.tls.insecure_skip_verify = true;
  GrpcSender s(c, log::Logger());
  absl::Status st = sendOne(s);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(tempo_.cns(), std::vector<std::string>{"team-a"});
}

TEST_F(OtlpGrpcTlsTest, ServerName) {
  GrpcClientBlock c = tlsClient(port_, false);
  c.tls.server_name = "wrong.example";
  GrpcSender wrong(c, log::Logger());
  EXPECT_FALSE(sendOne(wrong).ok());
  c.wait_for_ready = true;
  c.tls.server_name = "localhost";  // a SAN of the server certificate; the endpoint is an IP
  GrpcSender right(c, log::Logger());
  absl::Status st = sendOne(right);
  ASSERT_TRUE(st.ok()) << st;
}

TEST_F(OtlpGrpcTlsTest, NoClientCertificateIsRefused) {
  GrpcClientBlock c = tlsClient(port_, false);
  c.tls.cert_file = c.tls.key_file = "";
  GrpcSender s(c, log::Logger());
  EXPECT_FALSE(sendOne(s).ok());
}

// kubelet swaps the Secret: the next send uses a new channel presenting the new certificate; a
// mismatched pair afterwards keeps the working channel.
TEST_F(OtlpGrpcTlsTest, RotatedClientCertificate) {
  const auto& pki = TestPki::get();
  auto team_b = net::testing::makeClientCert(pki.dir, pki.ca, pki.ca_key, "team-b");
  ASSERT_FALSE(team_b.first.empty());
  KubeletDir dir(pki.dir + "/grpc-rotating-client");
  dir.swap({{"tls.crt", readAll(pki.client_cert)}, {"tls.key", readAll(pki.client_key)}});
  GrpcClientBlock c = tlsClient(port_);
  c.tls.cert_file = dir.path("tls.crt");
  c.tls.key_file = dir.path("tls.key");
  GrpcSender s(c, log::Logger(), 0ms);
  ASSERT_TRUE(sendOne(s).ok());
  ASSERT_TRUE(sendOne(s).ok());
  dir.swap({{"tls.crt", readAll(team_b.first)}, {"tls.key", readAll(team_b.second)}});
  ASSERT_TRUE(sendOne(s).ok());
  dir.swap({{"tls.crt", readAll(pki.client_cert)}, {"tls.key", readAll(team_b.second)}});
  ASSERT_TRUE(sendOne(s).ok());
  EXPECT_EQ(tempo_.cns(), (std::vector<std::string>{"team-a", "team-a", "team-b", "team-b"}));
}

TEST(OtlpGrpcTlsConfigTest, RefusesWhatGrpcCannotDo) {
  GrpcClientBlock c;
  c.endpoint = "tempo:4317";
  EXPECT_TRUE(c.validate().ok());
  c.tls.min_version = "1.3";
  EXPECT_NE(c.validate().message().find("min_version"), std::string_view::npos);
  c.tls.min_version = "";
  c.tls.max_version = "1.2";
  EXPECT_NE(c.validate().message().find("max_version"), std::string_view::npos);
  c.tls.max_version = "";
  c.tls.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"};
  EXPECT_NE(c.validate().message().find("cipher_suites"), std::string_view::npos);
  TlsClientBlock t;
  t.curve_preferences = {"X25519"};
  EXPECT_NE(t.validate().message().find("curve_preferences"), std::string_view::npos);
  t.curve_preferences.clear();
  t.cert_file = "/x.crt";
  EXPECT_FALSE(t.validate().ok());  // a certificate without a key
}

}  // namespace
}  // namespace telegate::otelcol::exporter_otlp
