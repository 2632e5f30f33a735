// The tls_config block of the HTTP client blocks: its mapping onto the shared TLS settings, its
// validation, and how it overlays a kubeconfig's or service account's settings.
#include "src/components/common/http_client.h"

#include <gtest/gtest.h>

namespace telegate::components {
namespace {

TlsConfigBlock fullBlock() {
  TlsConfigBlock t;
  t.ca_file = "/ca.crt";
  t.cert_pem = "CERT";
  t.key_pem.value = "KEY";
  t.server_name = "loki.example";
  t.insecure_skip_verify = true;
  t.min_version = "1.3";
  return t;
}

TEST(TlsConfigBlockTest, MapsEveryAttribute) {
  net::tls::TlsClientSettings s = tlsSettings(fullBlock());
  EXPECT_EQ(s.ca_file, "/ca.crt");
  EXPECT_EQ(s.cert_pem, "CERT");
  EXPECT_EQ(s.key_pem, "KEY");
  EXPECT_EQ(s.server_name, "loki.example");
  EXPECT_TRUE(s.insecure_skip_verify);
  EXPECT_EQ(s.min_version, "1.3");
  HttpClientConfig cfg;
  cfg.tls_config = fullBlock();
  EXPECT_EQ(clientOptions(cfg).tls.server_name, "loki.example");
  EXPECT_EQ(clientOptions(cfg).tls.min_version, "1.3");
}

TEST(TlsConfigBlockTest, ValidatesLikeTheSharedSettings) {
  EXPECT_TRUE(fullBlock().validate().ok());
  TlsConfigBlock t = fullBlock();
  t.min_version = "1.4";
  EXPECT_NE(t.validate().message().find("min_version"), std::string_view::npos) << t.validate();
  t = fullBlock();
  t.ca_pem = "PEM";  // and ca_file
  EXPECT_FALSE(t.validate().ok());
  t = fullBlock();
  t.key_pem.value.clear();  // a certificate without its key
  EXPECT_FALSE(t.validate().ok());
}

TEST(TlsConfigBlockTest, OverlaysAKubeconfig) {
  net::tls::TlsClientSettings base;
  base.ca_pem = "KUBECONFIG-CA";
  base.cert_file = "/kube/client.crt";
  base.key_file = "/kube/client.key";
  base.server_name = "kubernetes";
  TlsConfigBlock t;
  t.ca_file = "/override/ca.crt";
  t.min_version = "1.3";
  overlayTlsConfig(t, &base);
  EXPECT_EQ(base.ca_file, "/override/ca.crt");
  EXPECT_EQ(base.ca_pem, "");  // replaced as a pair
  EXPECT_EQ(base.cert_file, "/kube/client.crt");
  EXPECT_EQ(base.key_file, "/kube/client.key");
  EXPECT_EQ(base.server_name, "kubernetes");
  EXPECT_EQ(base.min_version, "1.3");
  EXPECT_TRUE(sameTlsConfig(t, t));
  TlsConfigBlock u = t;
  u.server_name = "x";
  EXPECT_FALSE(sameTlsConfig(t, u));
}

}  // namespace
}  // namespace telegate::components
