// Tests of TlsServerContext: loading errors, the kubelet-style symlink rotation, metrics.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "src/common/log.h"
#include "src/net/tls/tls.h"
#include "src/net/tls/tls_test_util.h"

namespace telegate::net::tls {
namespace {

using testing::KubeletDir;
using testing::readAll;
using testing::TestPki;
using testing::writeAll;

std::string servingCn(const std::shared_ptr<SSL_CTX>& ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx.get());
  if (cert == nullptr) return "";
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

double reloads(metrics::Registry& m, const std::string& server, const std::string& result) {
  return m.counter("telegate_tls_certificate_reloads_total", "", {"server", "result"})
      .with({server, result})
      .value();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/telegate_tls_test_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST(TlsServerContextTest, LoadsFilesAndPem) {
  const TestPki& pki = TestPki::get();
  metrics::Registry m;
  TlsServerSettings s;
  s.cert_file = pki.server_cert;
  s.key_file = pki.server_key;
  auto ctx = TlsServerContext::create(s, "srv", &m);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ(servingCn((*ctx)->current()), "server");
  EXPECT_EQ((*ctx)->settings().cert_file, pki.server_cert);
  const double expiry = m.gauge("telegate_tls_certificate_expiry_timestamp_seconds", "", {"server"})
                            .with({"srv"})
                            .value();
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(expiry, now + 29 * 86400);
  EXPECT_LT(expiry, now + 31 * 86400);

  TlsServerSettings p;
  p.cert_pem = readAll(pki.server2_cert);
  p.key_pem = readAll(pki.server2_key);
  p.client_ca_pem = readAll(pki.ca);
  p.client_auth = ClientAuth::kRequireAndVerifyClientCert;
  auto pem = TlsServerContext::create(p, "pem", &m);
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_EQ(servingCn((*pem)->current()), "server2");
  EXPECT_EQ(SSL_CTX_get_verify_mode((*pem)->current().get()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  EXPECT_FALSE((*pem)->reloadIfChanged());
}

TEST(TlsServerContextTest, LoadErrorsNameFileAndReason) {
  const TestPki& pki = TestPki::get();
  TempDir tmp;
  const std::string garbage = tmp.path + "/garbage.pem";
  writeAll(garbage, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n");
  const std::string empty = tmp.path + "/empty.pem";
  writeAll(empty, "");
  struct Case {
    std::string cert, key, ca;
    std::string error;
  };
  const std::vector<Case> cases = {
      {tmp.path + "/missing.crt", pki.server_key, "", "open " + tmp.path + "/missing.crt"},
      {pki.server_cert, tmp.path + "/missing.key", "", "open " + tmp.path + "/missing.key"},
      {pki.server_cert, pki.server2_key, "",
       pki.server2_key + ": private key does not match the certificate " + pki.server_cert},
      {garbage, pki.server_key, "", garbage + ": no valid PEM certificate"},
      {empty, pki.server_key, "", empty + ": no valid PEM certificate"},
      {pki.server_cert, garbage, "", garbage + ": no valid PEM private key"},
      {pki.server_cert, pki.server_key, garbage, garbage + ": no valid PEM certificate"},
      {pki.server_cert, pki.server_key, tmp.path + "/nope", "open " + tmp.path + "/nope"},
  };
  for (const Case& c : cases) {
    metrics::Registry m;
    TlsServerSettings s;
    s.cert_file = c.cert;
    s.key_file = c.key;
    s.client_ca_file = c.ca;
    auto ctx = TlsServerContext::create(s, "srv", &m);
    ASSERT_FALSE(ctx.ok()) << c.error;
    EXPECT_NE(ctx.status().message().find(c.error), std::string::npos) << ctx.status();
  }
  TlsServerSettings invalid;  // validate() runs first
  invalid.cert_file = pki.server_cert;
  EXPECT_NE(TlsServerContext::create(invalid, "srv").status().message().find("key_file"),
            std::string::npos);
}

TEST(TlsServerContextTest, KubeletSymlinkSwapRotates) {
  const TestPki& pki = TestPki::get();
  TempDir tmp;
  KubeletDir dir(tmp.path + "/secret");
  dir.swap({{"tls.crt", readAll(pki.server_cert)}, {"tls.key", readAll(pki.server_key)}});
  std::mutex mu;
  std::vector<std::string> lines;
  log::setSinkForTest([&](std::string_view l) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(l);
  });
  metrics::Registry m;
  TlsServerSettings s;
  s.cert_file = dir.path("tls.crt");
  s.key_file = dir.path("tls.key");
  auto created = TlsServerContext::create(s, "rot", &m);
  ASSERT_TRUE(created.ok()) << created.status();
  std::shared_ptr<TlsServerContext> ctx = *created;
  ctx->stop();  // the test drives reloadIfChanged() itself
  std::shared_ptr<SSL_CTX> first = ctx->current();
  EXPECT_FALSE(ctx->reloadIfChanged());

  // A new pair: published at once; the old context stays valid for whoever holds it.
  dir.swap({{"tls.crt", readAll(pki.server2_cert)}, {"tls.key", readAll(pki.server2_key)}});
  EXPECT_TRUE(ctx->reloadIfChanged());
  EXPECT_EQ(servingCn(ctx->current()), "server2");
  EXPECT_EQ(servingCn(first), "server");
  EXPECT_EQ(reloads(m, "rot", "ok"), 1);
  const double expiry2 =
      m.gauge("telegate_tls_certificate_expiry_timestamp_seconds", "", {"server"})
          .with({"rot"})
          .value();
  EXPECT_GT(expiry2, static_cast<double>(std::time(nullptr)) + 59 * 86400);

  // A mismatched pair: refused, counted, logged once; the previous one keeps serving.
  std::shared_ptr<SSL_CTX> second = ctx->current();
  dir.swap({{"tls.crt", readAll(pki.server_cert)}, {"tls.key", readAll(pki.server2_key)}});
  EXPECT_FALSE(ctx->reloadIfChanged());
  EXPECT_EQ(ctx->current(), second);
  EXPECT_EQ(reloads(m, "rot", "error"), 1);
  dir.swap({{"tls.crt", readAll(pki.server_cert)}, {"tls.key", readAll(pki.server2_key)}});
  EXPECT_FALSE(ctx->reloadIfChanged());
  EXPECT_EQ(reloads(m, "rot", "error"), 2);
  EXPECT_EQ(ctx->current(), second);
  // Touching with the same contents publishes nothing.
  dir.swap({{"tls.crt", readAll(pki.server2_cert)}, {"tls.key", readAll(pki.server2_key)}});
  EXPECT_FALSE(ctx->reloadIfChanged());
  EXPECT_EQ(ctx->current(), second);
  log::setSinkForTest(nullptr);
  int failures = 0;
  for (const std::string& l : lines) {
    if (l.find("reload failed") != std::string::npos) {
      ++failures;
      EXPECT_NE(l.find("does not match"), std::string::npos) << l;
      EXPECT_NE(l.find("rot"), std::string::npos) << l;
    }
  }
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(reloads(m, "rot", "ok"), 1);
}

TEST(TlsServerContextTest, WatcherPicksUpChangeWithinSeconds) {
  const TestPki& pki = TestPki::get();
  TempDir tmp;
  KubeletDir dir(tmp.path + "/secret");
  dir.swap({{"tls.crt", readAll(pki.server_cert)}, {"tls.key", readAll(pki.server_key)}});
  metrics::Registry m;
  TlsServerSettings s;
  s.cert_file = dir.path("tls.crt");
  s.key_file = dir.path("tls.key");
  auto ctx = TlsServerContext::create(s, "watch", &m);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  dir.swap({{"tls.crt", readAll(pki.server2_cert)}, {"tls.key", readAll(pki.server2_key)}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (servingCn((*ctx)->current()) != "server2" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(servingCn((*ctx)->current()), "server2");
  (*ctx)->stop();
  (*ctx)->stop();  // idempotent
}

TEST(TlsServerContextTest, ReloadIntervalWithSameContentsPublishesNothing) {
  const TestPki& pki = TestPki::get();
  TempDir tmp;
  const std::string cert = tmp.path + "/tls.crt", key = tmp.path + "/tls.key";
  writeAll(cert, readAll(pki.server_cert));
  writeAll(key, readAll(pki.server_key));
  metrics::Registry m;
  TlsServerSettings s;
  s.cert_file = cert;
  s.key_file = key;
  s.reload_interval = std::chrono::milliseconds(1);
  auto ctx = TlsServerContext::create(s, "interval", &m);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  (*ctx)->stop();
  std::shared_ptr<SSL_CTX> first = (*ctx)->current();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE((*ctx)->reloadIfChanged());  // due, same contents
  EXPECT_EQ((*ctx)->current(), first);
  EXPECT_EQ(reloads(m, "interval", "ok"), 0);
  EXPECT_EQ(reloads(m, "interval", "error"), 0);
  // Rewritten in place (no symlinks): seen at the next check.
  writeAll(cert, readAll(pki.server2_cert));
  writeAll(key, readAll(pki.server2_key));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE((*ctx)->reloadIfChanged());
  EXPECT_EQ(servingCn((*ctx)->current()), "server2");
}

}  // namespace
}  // namespace telegate::net::tls
