#include "src/components/otelcol/auth/bearer/bearer.h"

#include <gtest/gtest.h>

#include <map>

namespace telegate::otelcol::bearer {
namespace {

HeaderLookup headers(std::map<std::string, std::string> h) {
  return [h = std::move(h)](std::string_view name) -> std::string_view {
    auto it = h.find(std::string(name));
    return it == h.end() ? std::string_view() : std::string_view(it->second);
  };
}

Credential cred(std::string token, std::string tenant = "") {
  Credential c;
  c.digest = sha256(token);
  auto info = std::make_shared<pdata::ClientInfo>();
  info->tenant = std::move(tenant);
  c.client = info;
  return c;
}

class BearerTest : public ::testing::Test {
 protected:
  metrics::Registry reg_;
  BearerHandler h_{"otelcol.auth.bearer.t", reg_};
};

TEST_F(BearerTest, AcceptsExactCredentialOnly) {
  h_.set("Authorization", "Bearer", {cred("your-secret-token-12345")});
  EXPECT_TRUE(h_.authenticate(headers({{"authorization", "Bearer your-secret-token-12345"}})).ok);
  auto wrong = h_.authenticate(headers({{"authorization", "Bearer nope-nope"}}));
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.reason, "invalid_token");
  EXPECT_EQ(wrong.message.find("nope-nope"), std::string::npos);  // never echoes the credential
  auto scheme = h_.authenticate(headers({{"authorization", "bearer your-secret-token-12345"}}));
  EXPECT_FALSE(scheme.ok);
  EXPECT_EQ(scheme.reason, "bad_scheme");
  EXPECT_FALSE(h_.authenticate(headers({{"authorization", "Bearer  your-secret-token-12345"}})).ok);
  EXPECT_FALSE(h_.authenticate(headers({{"authorization", "Bearer"}})).ok);
  auto missing = h_.authenticate(headers({}));
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.reason, "missing");
  std::string expo = reg_.exposition();
  EXPECT_NE(expo.find("telegate_auth_failures_total{component_id=\"otelcol.auth.bearer.t\","
                      "reason=\"invalid_token\"} 2"),
            std::string::npos)
      << expo;
}

TEST_F(BearerTest, CustomSchemeAndHeader) {
  h_.set("X-Api-Key", "", {cred("t0k")});
  EXPECT_TRUE(h_.authenticate(headers({{"x-api-key", "t0k"}})).ok);
  EXPECT_FALSE(h_.authenticate(headers({{"authorization", "t0k"}})).ok);
}

TEST_F(BearerTest, SeveralTokensWithTenants) {
  h_.set("Authorization", "Bearer", {cred("old", "team-a"), cred("new", "team-b")});
  auto a = h_.authenticate(headers({{"authorization", "Bearer old"}}));
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(a.client->tenant, "team-a");
  auto b = h_.authenticate(headers({{"authorization", "Bearer new"}}));
  ASSERT_TRUE(b.ok);
  EXPECT_EQ(b.client->tenant, "team-b");
  h_.set("Authorization", "Bearer", {cred("new", "team-b")});
  EXPECT_FALSE(h_.authenticate(headers({{"authorization", "Bearer old"}})).ok);
}

TEST_F(BearerTest, NoCredentialsFailsClosed) {
  h_.set("Authorization", "Bearer", {});
  auto r = h_.authenticate(headers({{"authorization", "Bearer anything"}}));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "no_credentials");
}

TEST(TokenFileTest, ParsesTokensDigestsTenantsAndSkipsBadLines) {
  std::string digest_of_b =
      "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";  // sha256("b")
  std::vector<std::string> errors;
  auto creds = parseTokenFile("# comment\n\na tenant=one name=ci\nsha256:" + digest_of_b +
                                  "\nsha256:zz\nc bogus=1\n  d  \r\n",
                              &errors);
  ASSERT_EQ(creds.size(), 3u);
  EXPECT_EQ(creds[0].digest, sha256("a"));
  EXPECT_EQ(creds[0].client->tenant, "one");
  EXPECT_EQ(creds[0].client->auth_name, "ci");
  EXPECT_EQ(creds[1].digest, sha256("b"));
  EXPECT_EQ(creds[2].digest, sha256("d"));
  EXPECT_EQ(errors.size(), 2u);
}

TEST(ArgumentsTest, EmptyTokenFailsClosed) {
  Arguments a;
  auto st = a.validate();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("token must not be empty"), std::string::npos);
  a.token_file = "/run/secrets/tokens";
  EXPECT_TRUE(a.validate().ok());
  CredentialBlock c;
  c.sha256 = "abc";
  EXPECT_FALSE(c.validate().ok());
  c.sha256 = std::string(64, 'a');
  EXPECT_TRUE(c.validate().ok());
  c.token.value = "x";
  EXPECT_FALSE(c.validate().ok());
}

}  // namespace
}  // namespace telegate::otelcol::bearer
