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

Arguments args(std::string token, std::string scheme = "Bearer", std::string header = "Authorization") {
  Arguments a;
  a.token.value = std::move(token);
  a.scheme = std::move(scheme);
  a.header = std::move(header);
  return a;
}

TEST(BearerTest, AcceptsExactCredentialOnly) {
  BearerHandler h(args("your-secret-token-12345"));
  EXPECT_TRUE(h.authenticate(headers({{"authorization", "Bearer your-secret-token-12345"}})).ok);
  auto wrong = h.authenticate(headers({{"authorization", "Bearer nope"}}));
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.reason, "invalid_token");
  EXPECT_EQ(wrong.message.find("nope"), std::string::npos);  // never echoes the credential
  EXPECT_FALSE(h.authenticate(headers({{"authorization", "bearer your-secret-token-12345"}})).ok);
  EXPECT_FALSE(h.authenticate(headers({{"authorization", "Bearer  your-secret-token-12345"}})).ok);
  auto missing = h.authenticate(headers({}));
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.reason, "missing");
}

TEST(BearerTest, CustomSchemeAndHeader) {
  BearerHandler h(args("t0k", "", "X-Api-Key"));
  EXPECT_TRUE(h.authenticate(headers({{"x-api-key", "t0k"}})).ok);
  EXPECT_FALSE(h.authenticate(headers({{"authorization", "t0k"}})).ok);
}

TEST(BearerTest, SwapsTokenInPlace) {
  BearerHandler h(args("old"));
  h.set(args("new"));
  EXPECT_FALSE(h.authenticate(headers({{"authorization", "Bearer old"}})).ok);
  EXPECT_TRUE(h.authenticate(headers({{"authorization", "Bearer new"}})).ok);
}

TEST(BearerTest, EmptyTokenFailsClosed) {
  auto st = args("").validate();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("token must not be empty"), std::string::npos);
}

}  // namespace
}  // namespace telegate::otelcol::bearer
