#include "src/components/otelcol/auth/client_certificate/cert_handler.h"

#include <gtest/gtest.h>

#include <map>

namespace telegate::otelcol::client_certificate {
namespace {

using net::tls::PeerIdentity;

PeerIdentity peer(std::string cn, std::vector<std::string> dns = {},
                  std::vector<std::string> uris = {}, std::vector<std::string> emails = {}) {
  PeerIdentity p;
  p.verified = true;
  p.common_name = std::move(cn);
  p.subject = "CN=" + p.common_name;
  p.dns_names = std::move(dns);
  p.uris = std::move(uris);
  p.emails = std::move(emails);
  return p;
}

Identity ident(Field f, std::string value, std::string tenant, std::string name = "",
               bool regex = false) {
  Identity id;
  id.rule = {f, regex, std::move(value)};
  id.tenant = std::move(tenant);
  id.name = name.empty() ? std::string(fieldName(f)) + ":" + id.rule.value : std::move(name);
  return id;
}

HeaderLookup headers(std::map<std::string, std::string> h) {
  return [h = std::move(h)](std::string_view name) -> std::string_view {
    auto it = h.find(std::string(name));
    return it == h.end() ? std::string_view() : std::string_view(it->second);
  };
}

// A token handler standing in for otelcol.auth.bearer: "Bearer <token>" where the token names
// its tenant ("tok-<tenant>", "tok-" for none).
class FakeToken : public AuthHandler {
 public:
  std::string describe() const override { return "fake.handler"; }
  AuthResult authenticate(const HeaderLookup& header) const override {
    ++calls;
    AuthResult r;
    std::string_view v = header("authorization");
    if (v.empty()) {
      r.reason = "missing";
      r.message = "missing or empty authorization header";
      return r;
    }
    if (v == "Bearer odd") {
      r.reason = "expired";  // a reason the certificate handler does not know
      r.message = "expired";
      return r;
    }
    if (v.rfind("Bearer tok-", 0) != 0) {
      r.reason = "invalid_token";
      r.message = "scheme or token does not match";
      return r;
    }
    auto c = std::make_shared<pdata::ClientInfo>();
    c->tenant = std::string(v.substr(11));
    c->auth_name = "token";
    r.ok = true;
    r.client = c;
    return r;
  }
  mutable int calls = 0;
};

// The tenant of an accepted request, or "refused:<reason>".
std::string tenantOf(const AuthResult& r) {
  if (!r.ok || !r.client) return "refused:" + r.reason;
  return r.client->tenant;
}

class CertHandlerTest : public ::testing::Test {
 protected:
  AuthResult auth(const PeerIdentity* p, std::map<std::string, std::string> h = {}) {
    return h_.authenticate(AuthRequest{headers(std::move(h)), p});
  }
  std::string expo() { return reg_.exposition(); }
  metrics::Registry reg_;
  ClientCertificateHandler h_{"otelcol.auth.client_certificate.t", reg_};
  std::shared_ptr<FakeToken> token_ = std::make_shared<FakeToken>();
};

TEST_F(CertHandlerTest, MapsCommonNameToCredentialAndTenant) {
  ASSERT_TRUE(h_.set(Mode::kCertificate,
                     {ident(Field::kCommonName, "team-a", "tenant-a", "a"),
                      ident(Field::kCommonName, "team-b", "tenant-b", "b")},
                     nullptr)
                  .ok());
  auto a = peer("team-a"), b = peer("team-b");
  auto ra = auth(&a), rb = auth(&b);
  ASSERT_TRUE(ra.ok) << ra.message;
  ASSERT_TRUE(rb.ok) << rb.message;
  EXPECT_EQ(ra.client->tenant, "tenant-a");
  EXPECT_EQ(ra.client->auth_name, "a");
  EXPECT_EQ(rb.client->tenant, "tenant-b");
  // Exact common names are case-sensitive.
  auto upper = peer("TEAM-A");
  EXPECT_EQ(auth(&upper).reason, "unknown_identity");
  std::string e = expo();
  EXPECT_NE(
      e.find("telegate_auth_successes_total{component_id=\"otelcol.auth.client_certificate.t\""
             ",tenant=\"tenant-a\"} 1"),
      std::string::npos)
      << e;
  EXPECT_NE(e.find("telegate_auth_certificate_identity_requests_total{component_id=\"otelcol.auth."
                   "client_certificate.t\",name=\"b\"} 1"),
            std::string::npos)
      << e;
}

TEST_F(CertHandlerTest, MapsEachSubjectAlternativeNameKind) {
  ASSERT_TRUE(h_.set(Mode::kCertificate,
                     {ident(Field::kDns, "collector.team-a.example", "dns-tenant"),
                      ident(Field::kUri, "spiffe://example.org/ns/b/sa/agent", "uri-tenant"),
                      ident(Field::kEmail, "Ops@Example.ORG", "mail-tenant")},
                     nullptr)
                  .ok());
  // DNS names compare case-insensitively, and any of several SANs may match.
  auto d = peer("", {"other.example", "Collector.Team-A.example"});
  auto u = peer("x", {}, {"spiffe://example.org/ns/b/sa/agent"});
  auto m = peer("x", {}, {}, {"Ops@example.org"});        // domain case-insensitive
  auto m_local = peer("x", {}, {}, {"ops@example.org"});  // the local part is not
  EXPECT_EQ(tenantOf(auth(&d)), "dns-tenant");
  EXPECT_EQ(tenantOf(auth(&u)), "uri-tenant");
  EXPECT_EQ(tenantOf(auth(&m)), "mail-tenant");
  EXPECT_EQ(auth(&m_local).reason, "unknown_identity");
  // A value in the wrong field does not match: a CN equal to a configured DNS name.
  auto wrong_field = peer("collector.team-a.example");
  EXPECT_EQ(auth(&wrong_field).reason, "unknown_identity");
  // Default credential name.
  auto named = auth(&u);
  ASSERT_TRUE(named.ok);
  EXPECT_EQ(named.client->auth_name, "uri:spiffe://example.org/ns/b/sa/agent");
}

TEST_F(CertHandlerTest, RegexMatchesWholeValueAndFirstRuleWins) {
  ASSERT_TRUE(h_.set(Mode::kCertificate,
                     {ident(Field::kUri, "spiffe://example\\.org/ns/a/.*", "a", "", true),
                      ident(Field::kCommonName, "edge", "exact-after", ""),
                      ident(Field::kCommonName, "edge-[0-9]+", "regex-later", "", true),
                      ident(Field::kCommonName, ".*", "catch-all", "", true)},
                     nullptr)
                  .ok());
  auto a = peer("edge", {}, {"spiffe://example.org/ns/a/sa/x"});
  EXPECT_EQ(tenantOf(auth(&a)), "a");  // rule 0 beats the exact rule 1
  auto e = peer("edge");
  EXPECT_EQ(tenantOf(auth(&e)), "exact-after");  // rule 1 beats the regex rules after it
  auto e7 = peer("edge-7");
  EXPECT_EQ(tenantOf(auth(&e7)), "regex-later");
  auto partial = peer("xedge-7x");  // not a full match of rule 2, caught by rule 3
  EXPECT_EQ(tenantOf(auth(&partial)), "catch-all");
  // An empty common name never matches, even ".*".
  auto no_cn = peer("", {"host.example"});
  EXPECT_EQ(auth(&no_cn).reason, "unknown_identity");
}

TEST_F(CertHandlerTest, BadRegexKeepsThePreviousConfiguration) {
  ASSERT_TRUE(h_.set(Mode::kCertificate, {ident(Field::kCommonName, "a", "ta")}, nullptr).ok());
  auto st = h_.set(Mode::kCertificate, {ident(Field::kCommonName, "(", "x", "", true)}, nullptr);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("invalid regular expression"), std::string::npos) << st.message();
  auto a = peer("a");
  EXPECT_TRUE(auth(&a).ok);
  EXPECT_FALSE(
      h_.set(Mode::kCertificateAndToken, {ident(Field::kCommonName, "a", "")}, nullptr).ok());
}

TEST_F(CertHandlerTest, NoOrUnverifiedCertificateIsRefused) {
  ASSERT_TRUE(
      h_.set(Mode::kCertificate, {ident(Field::kCommonName, "team-a", "ta")}, nullptr).ok());
  auto none = auth(nullptr, {{"authorization", "Bearer tok-ta"}});
  EXPECT_FALSE(none.ok);
  EXPECT_EQ(none.reason, "no_client_certificate");
  EXPECT_FALSE(none.client);
  auto unverified = peer("team-a");
  unverified.verified = false;
  EXPECT_EQ(auth(&unverified).reason, "no_client_certificate");
  // The header-only entry point is a request without a certificate.
  EXPECT_EQ(h_.authenticate(headers({})).reason, "no_client_certificate");
  auto other = peer("team-z");
  auto unknown = auth(&other);
  EXPECT_EQ(unknown.reason, "unknown_identity");
  EXPECT_EQ(unknown.message.find("team-z"), std::string::npos);
  std::string e = expo();
  EXPECT_NE(e.find("reason=\"no_client_certificate\"} 3"), std::string::npos) << e;
  EXPECT_NE(e.find("reason=\"unknown_identity\"} 1"), std::string::npos) << e;
}

TEST_F(CertHandlerTest, CertificateModeIgnoresHeaders) {
  ASSERT_TRUE(h_.set(Mode::kCertificate, {ident(Field::kCommonName, "a", "ta")}, token_).ok());
  auto a = peer("a");
  EXPECT_TRUE(auth(&a, {{"authorization", "Bearer garbage"}}).ok);
  EXPECT_EQ(token_->calls, 0);
}

TEST_F(CertHandlerTest, CertificateAndTokenNeedsBoth) {
  ASSERT_TRUE(h_.set(Mode::kCertificateAndToken,
                     {ident(Field::kCommonName, "a", "ta", "cert-a"),
                      ident(Field::kCommonName, "untenanted", "", "cert-u")},
                     token_)
                  .ok());
  auto a = peer("a");
  // Certificate and a token of the same tenant, or of no tenant: the certificate's client.
  auto ok = auth(&a, {{"authorization", "Bearer tok-ta"}});
  ASSERT_TRUE(ok.ok) << ok.message;
  EXPECT_EQ(ok.client->tenant, "ta");
  EXPECT_EQ(ok.client->auth_name, "cert-a");
  EXPECT_TRUE(auth(&a, {{"authorization", "Bearer tok-"}}).ok);
  // Certificate without a token, or with a bad one: the token handler's reason.
  EXPECT_EQ(auth(&a).reason, "missing");
  auto bad = auth(&a, {{"authorization", "Bearer nope"}});
  EXPECT_EQ(bad.reason, "invalid_token");
  EXPECT_FALSE(bad.client);
  // Token without a certificate, or with an unmapped one: the certificate's reason.
  EXPECT_EQ(auth(nullptr, {{"authorization", "Bearer tok-ta"}}).reason, "no_client_certificate");
  auto z = peer("z");
  EXPECT_EQ(auth(&z, {{"authorization", "Bearer tok-ta"}}).reason, "unknown_identity");
  // An identity without a tenant takes the token's.
  auto u = peer("untenanted");
  auto ut = auth(&u, {{"authorization", "Bearer tok-tb"}});
  ASSERT_TRUE(ut.ok);
  EXPECT_EQ(ut.client->tenant, "tb");
  EXPECT_EQ(ut.client->auth_name, "cert-u");
  std::string e = expo();
  EXPECT_NE(e.find("reason=\"missing\"} 1"), std::string::npos) << e;
  EXPECT_NE(e.find("reason=\"invalid_token\"} 1"), std::string::npos) << e;
  // The token handler's own reason goes back to the receiver; unknown ones count as token_refused.
  EXPECT_EQ(auth(&a, {{"authorization", "Bearer odd"}}).reason, "expired");
  EXPECT_NE(expo().find("reason=\"token_refused\"} 1"), std::string::npos);
}

TEST_F(CertHandlerTest, CertificateAndTokenRefusesATokenOfAnotherTenant) {
  ASSERT_TRUE(
      h_.set(Mode::kCertificateAndToken, {ident(Field::kCommonName, "a", "ta")}, token_).ok());
  auto a = peer("a");
  auto r = auth(&a, {{"authorization", "Bearer tok-tb"}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "tenant_conflict");
  EXPECT_FALSE(r.client);
  EXPECT_NE(expo().find("reason=\"tenant_conflict\"} 1"), std::string::npos);
}

TEST_F(CertHandlerTest, CertificateOrTokenPrefersTheCertificate) {
  ASSERT_TRUE(
      h_.set(Mode::kCertificateOrToken, {ident(Field::kCommonName, "a", "ta")}, token_).ok());
  auto a = peer("a");
  // A mapped certificate decides; the token is not even looked at.
  auto rc = auth(&a, {{"authorization", "Bearer tok-tb"}});
  ASSERT_TRUE(rc.ok);
  EXPECT_EQ(rc.client->tenant, "ta");
  EXPECT_EQ(token_->calls, 0);
  // No certificate, or an unmapped one: the token decides.
  auto rt = auth(nullptr, {{"authorization", "Bearer tok-tb"}});
  ASSERT_TRUE(rt.ok);
  EXPECT_EQ(rt.client->tenant, "tb");
  auto z = peer("z");
  EXPECT_EQ(tenantOf(auth(&z, {{"authorization", "Bearer tok-tc"}})), "tc");
  // Neither: the token's refusal, explained with the certificate's.
  auto none = auth(nullptr);
  EXPECT_FALSE(none.ok);
  EXPECT_EQ(none.reason, "missing");
  EXPECT_NE(none.message.find("no verified client certificate"), std::string::npos) << none.message;
  EXPECT_EQ(auth(&z, {{"authorization", "Bearer x"}}).reason, "invalid_token");
}

TEST_F(CertHandlerTest, NullHeaderLookupIsNoHeaders) {
  ASSERT_TRUE(
      h_.set(Mode::kCertificateOrToken, {ident(Field::kCommonName, "a", "ta")}, token_).ok());
  auto r = h_.authenticate(AuthRequest{});
  EXPECT_EQ(r.reason, "missing");
}

}  // namespace
}  // namespace telegate::otelcol::client_certificate
