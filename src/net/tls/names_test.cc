// Tests of the TLS name tables and of the settings' validate() (src/net/tls/names.cc).
#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/net/tls/tls.h"

namespace telegate::net::tls {
namespace {

TEST(TlsNamesTest, Versions) {
  EXPECT_EQ(*parseTlsVersion("1.0"), TLS1_VERSION);
  EXPECT_EQ(*parseTlsVersion("1.1"), TLS1_1_VERSION);
  EXPECT_EQ(*parseTlsVersion("1.2"), TLS1_2_VERSION);
  EXPECT_EQ(*parseTlsVersion("1.3"), TLS1_3_VERSION);
  for (const char* bad : {"", "1.4", "TLS1.2", "1", "1.2 "}) {
    auto v = parseTlsVersion(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_NE(v.status().message().find("unknown TLS version"), std::string::npos);
  }
}

TEST(TlsNamesTest, CipherSuites) {
  EXPECT_EQ(*openSslCipherList({}), "");
  EXPECT_EQ(*openSslCipherList({"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}),
            "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305");
  // TLS 1.3 suites are accepted and not part of the TLS 1.2 list; duplicates (aliases) collapse.
  EXPECT_EQ(*openSslCipherList({"TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
                                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"}),
            "ECDHE-RSA-CHACHA20-POLY1305");
  EXPECT_EQ(*openSslCipherList({"TLS_RSA_WITH_AES_256_CBC_SHA"}), "AES256-SHA");
  auto bad = openSslCipherList({"TLS_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-AES128-GCM-SHA256"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"TLS_RSA_WITH_RC4_128_SHA\", \"ECDHE-RSA-AES128-GCM"),
            std::string::npos)
      << bad.status();
  // Every mapped name is one OpenSSL knows.
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  for (const char* s :
       {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA"}) {
    auto list = openSslCipherList({s});
    ASSERT_TRUE(list.ok()) << s;
    ASSERT_FALSE(list->empty()) << s;
    EXPECT_EQ(SSL_CTX_set_cipher_list(ctx, list->c_str()), 1) << s << " -> " << *list;
  }
  SSL_CTX_free(ctx);
}

TEST(TlsNamesTest, Curves) {
  EXPECT_EQ(*openSslGroupsList({"X25519", "CurveP256", "P384", "CurveP521"}),
            "X25519:P-256:P-384:P-521");
  EXPECT_EQ(*openSslGroupsList({}), "");
  auto bad = openSslGroupsList({"CurveP192"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown curve \"CurveP192\""), std::string::npos);
}

TEST(TlsNamesTest, ClientAuth) {
  EXPECT_EQ(*parseClientAuth(""), ClientAuth::kNoClientCert);
  EXPECT_EQ(*parseClientAuth("NoClientCert"), ClientAuth::kNoClientCert);
  EXPECT_EQ(*parseClientAuth("RequestClientCert"), ClientAuth::kRequestClientCert);
  EXPECT_EQ(*parseClientAuth("RequireAnyClientCert"), ClientAuth::kRequireAnyClientCert);
  EXPECT_EQ(*parseClientAuth("VerifyClientCertIfGiven"), ClientAuth::kVerifyClientCertIfGiven);
  EXPECT_EQ(*parseClientAuth("RequireAndVerifyClientCert"),
            ClientAuth::kRequireAndVerifyClientCert);
  EXPECT_FALSE(parseClientAuth("requireandverifyclientcert").ok());
}

TlsServerSettings serverOk() {
  TlsServerSettings s;
  s.cert_file = "/c.pem";
  s.key_file = "/k.pem";
  return s;
}

TEST(TlsSettingsTest, ServerValidate) {
  EXPECT_TRUE(serverOk().validate().ok());
  struct Case {
    void (*mutate)(TlsServerSettings&);
    const char* error;
  };
  const Case cases[] = {
      {[](TlsServerSettings& s) { s.cert_file.clear(); }, "cert_file or cert_pem is required"},
      {[](TlsServerSettings& s) { s.cert_pem = "x"; }, "cert_file and cert_pem are mutually"},
      {[](TlsServerSettings& s) { s.key_file.clear(); }, "key_file or key_pem is required"},
      {[](TlsServerSettings& s) { s.key_pem = "x"; }, "key_file and key_pem are mutually"},
      {[](TlsServerSettings& s) {
         s.client_ca_file = "a";
         s.client_ca_pem = "b";
       },
       "client_ca_file and client_ca_pem are mutually"},
      {[](TlsServerSettings& s) { s.min_version = "1.4"; },
       "min_version: unknown TLS version \"1.4\" (use \"1.0\", \"1.1\", \"1.2\" or \"1.3\")"},
      {[](TlsServerSettings& s) { s.max_version = "3"; }, "max_version: unknown TLS version"},
      {[](TlsServerSettings& s) { s.max_version = "1.1"; },
       "min_version \"1.2\" is above max_version \"1.1\""},
      {[](TlsServerSettings& s) { s.cipher_suites = {"NOPE"}; }, "cipher_suites: unknown"},
      {[](TlsServerSettings& s) { s.curve_preferences = {"NOPE"}; }, "curve_preferences: unknown"},
      {[](TlsServerSettings& s) { s.client_auth = ClientAuth::kRequireAndVerifyClientCert; },
       "client_ca_file is required"},
      {[](TlsServerSettings& s) { s.client_auth = ClientAuth::kVerifyClientCertIfGiven; },
       "client_ca_file is required"},
      {[](TlsServerSettings& s) { s.reload_interval = std::chrono::milliseconds(-1); },
       "reload_interval"},
      {[](TlsServerSettings& s) { s.alpn = {""}; }, "alpn: invalid protocol name"},
  };
  for (const Case& c : cases) {
    TlsServerSettings s = serverOk();
    c.mutate(s);
    absl::Status st = s.validate();
    ASSERT_FALSE(st.ok()) << c.error;
    EXPECT_NE(st.message().find(c.error), std::string::npos) << st;
  }
  TlsServerSettings s = serverOk();
  s.client_auth = ClientAuth::kRequireAndVerifyClientCert;
  s.include_system_ca_certs_pool = true;
  EXPECT_TRUE(s.validate().ok());
  s.include_system_ca_certs_pool = false;
  s.client_ca_pem = "pem";
  s.min_version = "1.0";
  s.max_version = "1.2";
  s.cipher_suites = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"};
  s.curve_preferences = {"X25519"};
  s.alpn = {"h2", "http/1.1"};
  EXPECT_TRUE(s.validate().ok());
  s.client_auth = ClientAuth::kRequireAnyClientCert;  // no CA needed
  s.client_ca_pem.clear();
  EXPECT_TRUE(s.validate().ok());
}

TEST(TlsSettingsTest, ClientValidate) {
  TlsClientSettings c;
  EXPECT_TRUE(c.validate().ok());
  c.cert_file = "c";
  EXPECT_NE(c.validate().message().find("key_file or key_pem is required"), std::string::npos);
  c.key_pem = "k";
  EXPECT_TRUE(c.validate().ok());
  c.cert_file.clear();
  EXPECT_NE(c.validate().message().find("cert_file or cert_pem is required"), std::string::npos);
  c = TlsClientSettings{};
  c.ca_file = "a";
  c.ca_pem = "b";
  EXPECT_NE(c.validate().message().find("ca_file and ca_pem are mutually"), std::string::npos);
  c = TlsClientSettings{};
  c.min_version = "1.3";
  c.max_version = "1.2";
  EXPECT_NE(c.validate().message().find("above max_version"), std::string::npos);
  c = TlsClientSettings{};
  c.cipher_suites = {"X"};
  EXPECT_NE(c.validate().message().find("cipher_suites: unknown"), std::string::npos);
  c.insecure = true;  // plaintext: the rest is not used
  EXPECT_TRUE(c.validate().ok());
}

}  // namespace
}  // namespace telegate::net::tls
