// The `http.tls` block: decoding and validation with positioned diagnostics, its mapping onto the
// shared TLS settings, and the admin server's rules for it (built before listening, fixed while
// running).
#include "src/admin/admin_tls.h"

#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <vector>

#include "src/admin/admin.h"
#include "src/common/memory_budget.h"
#include "src/runtime/controller.h"
#include "src/runtime/registry.h"
#include "test/fakes/test_certs.h"
#include "test/fakes/tls_client.h"

namespace telegate::admin {
namespace {

std::vector<syntax::SourceFilePtr> sources(const std::string& text) {
  return {std::make_shared<syntax::SourceFile>("c.alloy", text)};
}

class HttpTlsDecodeTest : public ::testing::Test {
 protected:
  HttpTlsDecodeTest() {
    runtime::ControllerOptions o;
    o.registry = &registry_;
    o.metrics = &metrics_;
    o.storage_path = ::testing::TempDir();
    o.on_http_block = [this](const runtime::HttpBlockArgs& a) { applied_ = a; };
    ctl_ = std::make_unique<runtime::Controller>(o);
  }
  runtime::LoadResult load(const std::string& text) { return ctl_->load(sources(text)); }

  runtime::Registry registry_;
  metrics::Registry metrics_;
  std::unique_ptr<runtime::Controller> ctl_;
  runtime::HttpBlockArgs applied_;
};

TEST_F(HttpTlsDecodeTest, AlloysAttributesDecodeWithoutTouchingFiles) {
  auto r = load(R"(http {
  tls {
    cert_file         = "/nonexistent/tls.crt"
    key_file          = "/nonexistent/tls.key"
    client_ca_file    = "/nonexistent/ca.crt"
    client_auth_type  = "RequireAndVerifyClientCert"
    min_version       = "TLS12"
    max_version       = "TLS13"
    cipher_suites     = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
    curve_preferences = ["X25519", "CurveP256"]
  }
}
)");
  ASSERT_TRUE(r.ok) << r.formatted();
  ASSERT_TRUE(applied_.tls.has_value());
  net::tls::TlsServerSettings s = runtime::toTlsServerSettings(*applied_.tls);
  EXPECT_EQ(s.cert_file, "/nonexistent/tls.crt");
  EXPECT_EQ(s.key_file, "/nonexistent/tls.key");
  EXPECT_EQ(s.client_ca_file, "/nonexistent/ca.crt");
  EXPECT_EQ(s.client_auth, net::tls::ClientAuth::kRequireAndVerifyClientCert);
  EXPECT_EQ(s.min_version, "1.2");
  EXPECT_EQ(s.max_version, "1.3");
  EXPECT_EQ(s.cipher_suites, std::vector<std::string>{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"});
  EXPECT_EQ(s.curve_preferences, (std::vector<std::string>{"X25519", "CurveP256"}));
  EXPECT_EQ(s.alpn, std::vector<std::string>{"http/1.1"});
  EXPECT_TRUE(s.validate().ok()) << s.validate();
}

TEST_F(HttpTlsDecodeTest, DefaultsAreAlloys) {
  auto r = load("http {\n  tls {\n    cert_pem = \"C\"\n    key_pem = \"K\"\n  }\n}\n");
  ASSERT_TRUE(r.ok) << r.formatted();
  ASSERT_TRUE(applied_.tls.has_value());
  net::tls::TlsServerSettings s = runtime::toTlsServerSettings(*applied_.tls);
  EXPECT_EQ(s.cert_pem, "C");
  EXPECT_EQ(s.key_pem, "K");
  EXPECT_EQ(s.client_auth, net::tls::ClientAuth::kNoClientCert);
  EXPECT_EQ(s.min_version, "");  // the shared default: TLS 1.2
  EXPECT_EQ(s.max_version, "");
  EXPECT_TRUE(s.cipher_suites.empty());
  EXPECT_TRUE(s.curve_preferences.empty());
  EXPECT_TRUE(s.client_ca_file.empty() && s.client_ca_pem.empty());
}

TEST_F(HttpTlsDecodeTest, ProblemsArePositionedAtTheirAttribute) {
  struct Case {
    std::string tls_body;  // lines inside `tls { }`, which starts on line 2
    std::string where;     // "c.alloy:LINE:COL"
    std::string error;
  };
  const std::string cert = "    cert_file = \"c.pem\"\n";
  const std::string key = "    key_file = \"k.pem\"\n";
  for (const auto& c : std::vector<Case>{
           {"", "c.alloy:2:3", "must specify either cert_pem or cert_file"},
           {cert, "c.alloy:2:3", "must specify either key_pem or key_file"},
           {cert + "    cert_pem = \"x\"\n" + key, "c.alloy:4:5",
            "cannot specify both cert_pem and cert_file"},
           {cert + key + "    key_pem = \"x\"\n", "c.alloy:5:5",
            "cannot specify both key_pem and key_file"},
           {cert + key + "    client_ca_file = \"ca.pem\"\n", "c.alloy:5:5",
            "when client_auth_type is NoClientCert"},
           {cert + key +
                "    client_ca_pem = \"x\"\n    client_ca_file = \"ca.pem\"\n"
                "    client_auth_type = \"RequestClientCert\"\n",
            "c.alloy:5:5", "cannot specify both client_ca_pem and client_ca_file"},
           {cert + key + "    client_auth_type = \"RequireClientCert\"\n", "c.alloy:5:5",
            "unknown client_auth_type \"RequireClientCert\" (use NoClientCert"},
           {cert + key + "    client_auth_type = \"RequireAndVerifyClientCert\"\n", "c.alloy:5:5",
            "needs client_ca_file or client_ca_pem"},
           {cert + key + "    client_auth_type = \"VerifyClientCertIfGiven\"\n", "c.alloy:5:5",
            "needs client_ca_file or client_ca_pem"},
           {cert + key + "    min_version = \"1.2\"\n", "c.alloy:5:5",
            "min_version: unknown TLS version \"1.2\" (use \"TLS10\""},
           {cert + key + "    max_version = \"TLS14\"\n", "c.alloy:5:5",
            "max_version: unknown TLS version \"TLS14\""},
           {cert + key + "    max_version = \"TLS12\"\n    min_version = \"TLS13\"\n",
            "c.alloy:6:5", "min_version TLS13 is newer than max_version TLS12"},
           {cert + key + "    cipher_suites = [\"TLS_RSA_WITH_RC4_128_SHA\"]\n", "c.alloy:5:5",
            "cipher_suites: "},
           {cert + key + "    curve_preferences = [\"P-256\"]\n", "c.alloy:5:5",
            "curve_preferences: "},
           {cert + key + "    ca_file = \"ca.pem\"\n", "c.alloy:5:5", "ca_file"},
           {cert + key + "    reload_interval = \"1m\"\n", "c.alloy:5:5", "reload_interval"},
           {cert + key + "    windows_certificate_filter {\n    }\n", "c.alloy:5:5",
            "windows_certificate_filter"},
           {cert + key + "    min_version = 12\n", "c.alloy:5:", "min_version"},
       }) {
    const std::string config = "http {\n  tls {\n" + c.tls_body + "  }\n}\n";
    auto r = load(config);
    EXPECT_FALSE(r.ok) << config;
    ASSERT_FALSE(r.diags.items().empty()) << config;
    const std::string first = r.diags.items().front().toString();
    EXPECT_NE(first.find(c.where), std::string::npos) << config << "\n" << first;
    EXPECT_NE(first.find(c.error), std::string::npos) << config << "\n" << first;
  }
}

TEST(HttpTlsPeekTest, FindsTheRootHttpBlockOutsideALoad) {
  auto p = runtime::peekHttpBlock(
      sources("logging { level = \"info\" }\nhttp {\n  tls {\n    cert_pem = \"C\"\n"
              "    key_pem = \"K\"\n  }\n}\n"));
  ASSERT_TRUE(p.has_value());
  ASSERT_TRUE(p->args.tls.has_value());
  EXPECT_EQ(p->args.tls->cert_pem.value, "C");
  EXPECT_EQ(p->file, "c.alloy");
  EXPECT_EQ(p->tls_range.begin.line, 3);

  p = runtime::peekHttpBlock(sources(""));
  ASSERT_TRUE(p.has_value());
  EXPECT_FALSE(p->args.tls.has_value());
  // Errors are left to the load.
  EXPECT_FALSE(runtime::peekHttpBlock(sources("http { tls { } }")).has_value());
  EXPECT_FALSE(runtime::peekHttpBlock(sources("http {")).has_value());
  EXPECT_FALSE(runtime::peekHttpBlock(sources("http { }\nhttp { }")).has_value());
}

constexpr const char* kTls = R"(http {
  tls {
    cert_file = "/run/tls/tls.crt"
    key_file  = "/run/tls/tls.key"
  }
}
)";

TEST(AdminTlsTest, PlainServerStaysPlainWithoutATlsBlock) {
  auto t = adminTlsFromSources(sources("http { }\n"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(t->enabled());
  EXPECT_FALSE(t->block.has_value());
  // A block with errors: plain, the load reports them.
  t = adminTlsFromSources(sources("http { tls { cert_file = \"x\" } }\n"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(t->enabled());
}

TEST(AdminTlsTest, UnreadableCertificateIsAPositionedStartupError) {
  metrics::Registry m;
  auto t = adminTlsFromSources(sources(kTls), &m);
  ASSERT_FALSE(t.ok());
  const std::string msg(t.status().message());
  EXPECT_EQ(msg.rfind("c.alloy:2:3: http.tls: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("/run/tls/tls.crt"), std::string::npos) << msg;
}

TEST(AdminTlsTest, ReloadMustKeepTheTlsBlockItStartedWith) {
  AdminTls plain;
  EXPECT_TRUE(checkAdminTlsUnchanged(plain, sources("http { }\n")).ok());
  EXPECT_TRUE(checkAdminTlsUnchanged(plain, sources("")).ok());
  auto st = checkAdminTlsUnchanged(plain, sources(kTls));
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("c.alloy:2:3: the configuration adds an http.tls block"),
            std::string::npos)
      << st;
  EXPECT_NE(st.message().find("restart telegate"), std::string::npos) << st;

  AdminTls started;
  started.block = runtime::peekHttpBlock(sources(kTls))->args.tls;
  EXPECT_TRUE(checkAdminTlsUnchanged(started, sources(kTls)).ok());
  // The same block with different formatting and an auth block beside it: unchanged.
  EXPECT_TRUE(checkAdminTlsUnchanged(
                  started, sources("http {\n auth { basic {\n username = \"u\"\n password = \"p\""
                                   " } }\n tls { key_file = \"/run/tls/tls.key\"\n"
                                   " cert_file = \"/run/tls/tls.crt\" }\n}\n"))
                  .ok());
  st = checkAdminTlsUnchanged(started, sources(""));
  EXPECT_NE(st.message().find("removes the http.tls block"), std::string::npos) << st;
  std::string changed(kTls);
  changed.replace(changed.find("  }\n}"), 0, "    min_version = \"TLS13\"\n");
  st = checkAdminTlsUnchanged(started, sources(changed));
  EXPECT_NE(st.message().find("c.alloy:2:3: the configuration changes the http.tls block"),
            std::string::npos)
      << st;
  // Configurations with errors pass through to the load, which reports them.
  EXPECT_TRUE(checkAdminTlsUnchanged(started, sources("http {")).ok());
}

// The admin server over TLS, built as src/main/app.cc builds it; probes keep working while the
// telemetry budget (--memory.limit) is exhausted, since TLS state is charged to the server's own.
TEST(AdminTlsServerTest, ServesTlsAndProbesSurviveAFullTelemetryBudget) {
  std::signal(SIGPIPE, SIG_IGN);  // a refused client writes into a closed connection
  testing::TestCa ca("admin-test-ca");
  testing::TestKeyPair server = ca.issueServer();
  testing::TestCa other("other-ca");
  testing::CertSpec spec;
  spec.common_name = "ops";
  testing::TestKeyPair client = ca.issue(spec);
  testing::TestKeyPair stranger = other.issue(spec);
  testing::TempDir dir;
  const std::string config = "http {\n  tls {\n    cert_file = \"" +
                             dir.write("tls.crt", server.cert_pem) + "\"\n    key_file = \"" +
                             dir.write("tls.key", server.key_pem) + "\"\n    client_ca_file = \"" +
                             dir.write("ca.crt", ca.certPem()) +
                             "\"\n    client_auth_type = \"RequireAndVerifyClientCert\"\n  }\n}\n";
  metrics::Registry m;
  auto tls = adminTlsFromSources(sources(config), &m);
  ASSERT_TRUE(tls.ok()) << tls.status();
  ASSERT_TRUE(tls->enabled());

  runtime::Registry registry;
  runtime::ControllerOptions o;
  o.registry = &registry;
  o.metrics = &m;
  o.storage_path = ::testing::TempDir();
  AdminServer* admin_ptr = nullptr;
  o.on_http_block = [&admin_ptr](const runtime::HttpBlockArgs& a) {
    if (admin_ptr != nullptr) admin_ptr->setHttpConfig(a);
  };
  runtime::Controller ctl(o);
  AdminServer admin(
      "127.0.0.1:0", ctl, m,
      [] {
        return ReloadOutcome{true, ""};
      },
      tls->context);
  admin_ptr = &admin;
  ASSERT_TRUE(admin.start().ok());
  ASSERT_TRUE(ctl.load(sources(config)).ok);
  admin.setReady(true);
  EXPECT_TRUE(admin.tlsEnabled());

  const std::string ready = "GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const uint16_t port = admin.server().port();
  auto r = testing::tlsExchange(port, ca.certPem(), &client, ready);
  EXPECT_EQ(r.response.rfind("HTTP/1.1 200", 0), 0u) << r.response;
  EXPECT_EQ(testing::tlsExchange(port, ca.certPem(), nullptr, ready).response, "");
  EXPECT_EQ(testing::tlsExchange(port, ca.certPem(), &stranger, ready).response, "");

  // Exhaust the telemetry budget: the probes still get through.
  MemoryBudget& global = globalMemoryBudget();
  const size_t old_limit = global.limit();
  global.setLimit(1);
  r = testing::tlsExchange(port, ca.certPem(), &client, ready);
  global.setLimit(old_limit);
  EXPECT_EQ(r.response.rfind("HTTP/1.1 200", 0), 0u) << r.response;
  admin.stop();
}

}  // namespace
}  // namespace telegate::admin
