#include "src/components/otelcol/auth/client_certificate/client_certificate.h"

#include <gtest/gtest.h>

#include <mutex>

#include "src/components/otelcol/auth/bearer/bearer.h"
#include "test/fakes/fake_host.h"

namespace telegate::otelcol::client_certificate {
namespace {

using ::telegate::testing::FakeHost;

IdentityBlock cn(std::string value, std::string tenant) {
  IdentityBlock b;
  b.common_name = std::move(value);
  b.tenant = std::move(tenant);
  return b;
}

net::tls::PeerIdentity verified(std::string common_name) {
  net::tls::PeerIdentity p;
  p.verified = true;
  p.common_name = std::move(common_name);
  return p;
}

std::string_view noHeaders(std::string_view) {
  return {};
}

TEST(IdentityBlockTest, ExactlyOneFieldAndAKnownMatch) {
  IdentityBlock b;
  EXPECT_FALSE(b.validate().ok());
  b.common_name = "a";
  EXPECT_TRUE(b.validate().ok());
  b.dns = "a.example";
  auto two = b.validate();
  EXPECT_FALSE(two.ok());
  EXPECT_NE(two.message().find("exactly one of common_name, dns, uri and email"),
            std::string::npos);
  b.dns.clear();
  b.match = "glob";
  EXPECT_NE(b.validate().message().find("use \"exact\" or \"regex\""), std::string::npos);
  b.match = "regex";
  b.common_name = "team-(a";
  auto bad = b.validate();
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.message().find("common_name: invalid regular expression"), 0u) << bad.message();
  b.common_name = "team-[a-z]+";
  EXPECT_TRUE(b.validate().ok());
}

TEST(IdentityBlockTest, DefaultNameNamesTheField) {
  IdentityBlock b;
  b.email = "ops@example.org";
  EXPECT_EQ(b.identity().name, "email:ops@example.org");
  EXPECT_EQ(b.identity().rule.field, Field::kEmail);
  b.name = "ops";
  EXPECT_EQ(b.identity().name, "ops");
}

TEST(ArgumentsTest, ModeAndBearerMustAgree) {
  Arguments a;
  EXPECT_NE(a.validate().message().find("at least one identity block"), std::string::npos);
  a.identity.push_back(cn("a", "ta"));
  EXPECT_TRUE(a.validate().ok());  // default mode: certificate
  a.mode = "both";
  EXPECT_NE(a.validate().message().find("mode: unknown value \"both\""), std::string::npos);
  metrics::Registry reg;
  auto bearer = std::make_shared<bearer::BearerHandler>("otelcol.auth.bearer.b", reg);
  a.mode = "certificate";
  a.bearer = runtime::CapsuleRef<AuthHandler>{bearer};
  EXPECT_NE(a.validate().message().find("the token would be ignored"), std::string::npos);
  a.mode = "certificate_and_token";
  EXPECT_TRUE(a.validate().ok());
  a.mode = "certificate_or_token";
  EXPECT_TRUE(a.validate().ok());
  a.bearer.reset();
  EXPECT_NE(a.validate().message().find("needs bearer"), std::string::npos);
}

TEST(ComponentTest, ReloadKeepsTheHandlerAndSwapsTheMapping) {
  FakeHost host("otelcol.auth.client_certificate.t");
  Arguments a;
  a.identity.push_back(cn("team-a", "tenant-a"));
  Component c(host, a);
  auto h = host.exported<AuthHandler>("handler");
  ASSERT_TRUE(h);
  EXPECT_EQ(host.health(), runtime::HealthState::kHealthy);
  EXPECT_NE(host.healthMessage().find("1 identity"), std::string::npos) << host.healthMessage();
  auto pa = verified("team-a"), pb = verified("team-b");
  EXPECT_TRUE(h->authenticate(AuthRequest{noHeaders, &pa}).ok);
  EXPECT_FALSE(h->authenticate(AuthRequest{noHeaders, &pb}).ok);

  Arguments b;
  b.identity.push_back(cn("team-b", "tenant-b"));
  b.identity.push_back(cn("team-c", "tenant-c"));
  ASSERT_TRUE(c.update(b).ok());
  EXPECT_EQ(host.exported<AuthHandler>("handler"), h);  // receivers keep their reference
  EXPECT_FALSE(h->authenticate(AuthRequest{noHeaders, &pa}).ok);
  auto r = h->authenticate(AuthRequest{noHeaders, &pb});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.client->tenant, "tenant-b");
  EXPECT_NE(host.healthMessage().find("2 identities"), std::string::npos);
}

TEST(ComponentTest, CertificateAndBearerComponentsCombine) {
  FakeHost host("otelcol.auth.client_certificate.t");
  metrics::Registry reg;
  auto bearer = std::make_shared<bearer::BearerHandler>("otelcol.auth.bearer.b", reg);
  bearer::Credential cred;
  cred.digest = bearer::sha256("s3cret-token");
  auto info = std::make_shared<pdata::ClientInfo>();
  info->tenant = "tenant-a";
  cred.client = info;
  bearer->set("Authorization", "Bearer", {cred});

  Arguments a;
  a.identity.push_back(cn("team-a", "tenant-a"));
  a.identity.push_back(cn("team-b", "tenant-b"));
  a.mode = "certificate_and_token";
  a.bearer = runtime::CapsuleRef<AuthHandler>{bearer};
  Component c(host, a);
  auto h = host.exported<AuthHandler>("handler");
  auto with_token = [](std::string_view name) -> std::string_view {
    return name == "authorization" ? "Bearer s3cret-token" : "";
  };
  auto pa = verified("team-a"), pb = verified("team-b");
  auto ok = h->authenticate(AuthRequest{with_token, &pa});
  ASSERT_TRUE(ok.ok) << ok.message;
  EXPECT_EQ(ok.client->tenant, "tenant-a");
  EXPECT_EQ(h->authenticate(AuthRequest{with_token, &pb}).reason, "tenant_conflict");
  EXPECT_EQ(h->authenticate(AuthRequest{noHeaders, &pa}).reason, "missing");
}

}  // namespace
}  // namespace telegate::otelcol::client_certificate
