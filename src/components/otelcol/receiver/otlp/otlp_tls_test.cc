// otelcol.receiver.otlp's `tls` blocks as a component: positioned diagnostics for what cannot be
// served, start failing with the certificate's file name, and an update whose certificate does
// not load leaving the running server as it was.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "src/components/all.h"
#include "src/components/otelcol/receiver/otlp/otlp.h"
#include "src/runtime/registry.h"
#include "src/syntax/parser.h"
#include "src/syntax/stdlib.h"
#include "test/fakes/fake_host.h"
#include "test/fakes/test_certs.h"
#include "test/fakes/tls_client.h"

namespace telegate::otelcol::receiver_otlp {
namespace {

using telegate::testing::TempDir;
using telegate::testing::TestCa;
using telegate::testing::tlsExchange;

// The first error of decoding `body` as the arguments of otelcol.receiver.otlp "x" (the body
// starts on line 2 of t.alloy), "" when it decodes.
std::string firstError(const std::string& body) {
  syntax::Diagnostics diags;
  auto src = std::make_shared<syntax::SourceFile>(
      "t.alloy", "otelcol.receiver.otlp \"x\" {\n" + body + "\noutput {}\n}\n");
  auto file = syntax::parseFile(src, &diags);
  EXPECT_FALSE(diags.hasErrors()) << diags.summary();
  const auto& block = *file->body.stmts.at(0).block;
  syntax::Object root = syntax::stdlib();
  syntax::Scope scope(&root);
  runtime::DecodeContext ctx{&scope, "t.alloy", &diags, nullptr};
  Arguments args;
  if (runtime::decodeBody(block.body, runtime::schemaOf<Arguments>(), &args, block.name_range,
                          ctx)) {
    return "";
  }
  for (const auto& d : diags.items()) {
    if (d.severity == syntax::Severity::kError) return d.toString();
  }
  return "?";
}

TEST(OtlpReceiverTlsConfig, AcceptsAlloysAttributes) {
  EXPECT_EQ(firstError(R"(http {
  tls {
    cert_file = "/c.pem"
    key_file = "/k.pem"
    client_ca_file = "/ca.pem"
    ca_file = "/roots.pem"
    min_version = "1.3"
    max_version = "1.3"
    cipher_suites = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
    curve_preferences = ["X25519", "CurveP256"]
    include_system_ca_certs_pool = true
    reload_interval = "1h"
    tpm { enabled = false }
  }
}
grpc {
  tls {
    cert_pem = "pem"
    key_pem = "pem"
    min_version = "1.2"
    max_version = "1.3"
  }
})"),
            "");
}

TEST(OtlpReceiverTlsConfig, PositionedDiagnostics) {
  // What gRPC cannot serve: at the grpc block's `tls` (line 3).
  EXPECT_EQ(firstError("grpc {\n  tls {\n    cert_file = \"/c\"\n    key_file = \"/k\"\n"
                       "    min_version = \"1.3\"\n  }\n}"),
            "t.alloy:3:3: min_version \"1.3\" is not supported on the gRPC server: gRPC 1.51 "
            "always accepts TLS 1.2 and 1.3; leave min_version unset or set it to \"1.2\"");
  EXPECT_EQ(firstError("grpc {\n  tls {\n    cert_file = \"/c\"\n    key_file = \"/k\"\n"
                       "    cipher_suites = [\"TLS_AES_128_GCM_SHA256\"]\n  }\n}"),
            "t.alloy:3:3: cipher_suites is not supported on the gRPC server: gRPC 1.51 uses its "
            "own cipher suites; remove it (the HTTP server supports it)");
  // A TPM key: at the `tpm` block.
  EXPECT_EQ(firstError("http {\n  tls {\n    cert_file = \"/c\"\n    key_file = \"/k\"\n"
                       "    tpm {\n      enabled = true\n    }\n  }\n}"),
            "t.alloy:6:5: tpm: keys held by a TPM are not supported; give the key with key_file "
            "or key_pem");
  // Attributes Alloy does not have in this block: at the attribute.
  EXPECT_EQ(firstError("http {\n  tls {\n    cert_file = \"/c\"\n    key_file = \"/k\"\n"
                       "    client_auth_type = \"RequireAndVerifyClientCert\"\n  }\n}"),
            "t.alloy:6:5: unrecognized attribute name \"client_auth_type\"");
  // A certificate without a key, two CA sources, an unknown version: at the `tls` block.
  EXPECT_NE(firstError("http {\n  tls {\n    cert_file = \"/c\"\n  }\n}").find("t.alloy:3:3: "),
            std::string::npos);
  EXPECT_EQ(firstError("http {\n  tls {\n    cert_file = \"/c\"\n    key_file = \"/k\"\n"
                       "    ca_file = \"/a\"\n    ca_pem = \"b\"\n  }\n}"),
            "t.alloy:3:3: at most one of ca_pem and ca_file must be configured");
  EXPECT_NE(firstError("http {\n  tls {\n    cert_file = \"/c\"\n    key_file = \"/k\"\n"
                       "    min_version = \"1.4\"\n  }\n}")
                .find("t.alloy:3:3: min_version"),
            std::string::npos);
}

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return ntohs(sa.sin_port);
}

std::unique_ptr<runtime::Component> build(runtime::Host& host, const Arguments& args) {
  components::registerAll();
  const runtime::Registration* r = runtime::Registry::global().find("otelcol.receiver.otlp");
  EXPECT_NE(r, nullptr);
  auto c =
      r->build(host, runtime::ArgsHolder{std::make_shared<Arguments>(args), &typeid(Arguments)});
  EXPECT_TRUE(c.ok()) << c.status();
  return *std::move(c);
}

runtime::ArgsHolder holder(const Arguments& args) {
  return runtime::ArgsHolder{std::make_shared<Arguments>(args), &typeid(Arguments)};
}

TEST(OtlpReceiverTls, StartAndUpdateFailWithTheFileAndKeepTheRunningServer) {
  TestCa ca("test-ca");
  TempDir dir;
  auto server = ca.issueServer();
  const uint16_t port = freePort();
  Arguments args;
  args.http.emplace();
  args.http->endpoint = "127.0.0.1:" + std::to_string(port);
  args.http->tls.emplace();
  args.http->tls->cert_file = dir.file("missing.crt");
  args.http->tls->key_file = dir.write("server.key", server.key_pem);
  telegate::testing::FakeHost host("otelcol.receiver.otlp.test");
  auto c = build(host, args);
  absl::Status st = c->start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("http: ", 0), 0u) << st;
  EXPECT_NE(st.message().find(dir.file("missing.crt")), std::string::npos) << st;

  args.http->tls->cert_file = dir.write("server.crt", server.cert_pem);
  ASSERT_TRUE(c->updateErased(holder(args)).ok());
  auto e = tlsExchange(port, ca.certPem(), nullptr,
                       "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(e.handshake);
  EXPECT_EQ(e.server_cert, server.cert_pem);

  // A new certificate that does not match its key: the update fails, the server keeps serving.
  Arguments broken = args;
  broken.http->tls->cert_file = dir.write("other.crt", ca.issueServer().cert_pem);
  st = c->updateErased(holder(broken));
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("http: ", 0), 0u) << st;
  e = tlsExchange(port, ca.certPem(), nullptr,
                  "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(e.handshake);
  EXPECT_EQ(e.server_cert, server.cert_pem);
  c->shutdown(std::chrono::steady_clock::now() + std::chrono::seconds(2));
}

}  // namespace
}  // namespace telegate::otelcol::receiver_otlp
