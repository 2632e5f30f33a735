#include "src/components/otelcol/auth/bearer/bearer.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "test/fakes/fake_host.h"
#include "test/fakes/wait.h"

namespace telegate::otelcol::bearer {
namespace {

using ::telegate::testing::FakeHost;
using ::telegate::testing::waitFor;

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
  auto scheme = h_.authenticate(headers({{"authorization", "Basic your-secret-token-12345"}}));
  EXPECT_FALSE(scheme.ok);
  EXPECT_EQ(scheme.reason, "bad_scheme");
  EXPECT_FALSE(h_.authenticate(headers({{"authorization", "Bearer"}})).ok);
  auto missing = h_.authenticate(headers({}));
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.reason, "missing");
  std::string expo = reg_.exposition();
  EXPECT_NE(expo.find("telegate_auth_failures_total{component_id=\"otelcol.auth.bearer.t\","
                      "reason=\"invalid_token\"} 1"),
            std::string::npos)
      << expo;
}

// RFC 7235: the scheme is case-insensitive and 1*SP separates it from the token.
TEST_F(BearerTest, SchemeIsCaseInsensitiveWithOneOrMoreSpaces) {
  h_.set("Authorization", "Bearer", {cred("tok-123")});
  for (const char* v : {"Bearer tok-123", "bearer tok-123", "BEARER tok-123", "bEaReR tok-123",
                        "Bearer  tok-123", "Bearer     tok-123", "Bearer tok-123 \t"}) {
    EXPECT_TRUE(h_.authenticate(headers({{"authorization", v}})).ok) << v;
  }
  for (const char* v : {"Bearertok-123", "Bearer\ttok-123", "Bearer ", "Bearer    ", "Bear tok-123",
                        "Bearerx tok-123", " Bearer tok-123", "Bearer tok-1234"}) {
    auto r = h_.authenticate(headers({{"authorization", v}}));
    EXPECT_FALSE(r.ok) << v;
  }
  EXPECT_EQ(h_.authenticate(headers({{"authorization", "Bearer\ttok-123"}})).reason, "bad_scheme");
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

class TokenFileTestDir : public ::testing::Test {
 protected:
  TokenFileTestDir() {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("bearer-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "tokens").string();
  }
  ~TokenFileTestDir() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& text) {
    std::string tmp = path_ + ".tmp";
    std::ofstream(tmp, std::ios::binary) << text;
    std::filesystem::remove_all(path_);
    std::filesystem::rename(tmp, path_);
  }
  // A file whose first line is a token and which is `size` bytes long (comment padding).
  static std::string padded(const std::string& token, size_t size) {
    std::string text = token + "\n";
    while (text.size() < size) {
      std::string line = "#" + std::string(std::min<size_t>(99, size - text.size() - 1), 'x');
      text += line.substr(0, size - text.size() - 1) + "\n";
    }
    return text;
  }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(TokenFileTestDir, ReadIsCappedAndReportsErrors) {
  write(padded("tok", kMaxTokenFileBytes));
  auto ok = readTokenFile(path_, kMaxTokenFileBytes);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->size(), kMaxTokenFileBytes);
  write(padded("tok", kMaxTokenFileBytes + 1));
  auto big = readTokenFile(path_, kMaxTokenFileBytes);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(big.status().message().find("larger than the limit of 65536 bytes"), std::string::npos);
  EXPECT_EQ(big.status().message().find("xxx"), std::string::npos);  // never the contents
  EXPECT_EQ(readTokenFile(path_ + ".missing", kMaxTokenFileBytes).status().code(),
            absl::StatusCode::kNotFound);
  std::filesystem::remove(path_);
  std::filesystem::create_directory(path_);
  EXPECT_EQ(readTokenFile(path_, kMaxTokenFileBytes).status().code(),
            absl::StatusCode::kUnavailable);
}

bool accepts(FakeHost& h, const std::string& token) {
  return h.exported<AuthHandler>("handler")
      ->authenticate(headers({{"authorization", "Bearer " + token}}))
      .ok;
}

TEST_F(TokenFileTestDir, OversizedFileAtFirstReadFailsClosed) {
  write(padded("evil-token", kMaxTokenFileBytes + 100));
  FakeHost host("otelcol.auth.bearer.t");
  Arguments a;
  a.token_file = path_;
  Component c(host, a);
  EXPECT_FALSE(accepts(host, "evil-token"));
  auto state = host.health();
  auto msg = host.healthMessage();
  EXPECT_EQ(state, runtime::HealthState::kUnhealthy);
  EXPECT_NE(msg.find("larger than the limit"), std::string::npos) << msg;
}

TEST_F(TokenFileTestDir, UnreadableOrOversizedReloadKeepsTheLastGoodCredentials) {
  write("good-token\n");
  FakeHost host("otelcol.auth.bearer.t");
  Arguments a;
  a.token_file = path_;
  a.token_file_refresh_interval.value = std::chrono::milliseconds(10);
  Component c(host, a);
  ASSERT_TRUE(c.start().ok());
  ASSERT_TRUE(accepts(host, "good-token"));
  EXPECT_EQ(host.health(), runtime::HealthState::kHealthy);

  // Too large: never used in part, the previous credentials stay.
  write(padded("evil-token", kMaxTokenFileBytes + 1));
  ASSERT_TRUE(waitFor([&] { return host.health() == runtime::HealthState::kUnhealthy; }));
  EXPECT_TRUE(accepts(host, "good-token"));
  EXPECT_FALSE(accepts(host, "evil-token"));
  EXPECT_NE(host.healthMessage().find("stay in force"), std::string::npos);

  // Unreadable (a directory in its place): the same.
  std::filesystem::remove(path_);
  std::filesystem::create_directory(path_);
  ASSERT_TRUE(waitFor([&] { return host.healthMessage().find("directory") != std::string::npos; }));
  EXPECT_TRUE(accepts(host, "good-token"));

  // Readable again: the new contents replace the old.
  std::filesystem::remove_all(path_);
  write("new-token\n");
  ASSERT_TRUE(waitFor([&] { return accepts(host, "new-token"); }));
  EXPECT_FALSE(accepts(host, "good-token"));
  EXPECT_EQ(host.health(), runtime::HealthState::kHealthy);

  // Removed: its credentials are revoked.
  std::filesystem::remove(path_);
  ASSERT_TRUE(waitFor([&] { return !accepts(host, "new-token"); }));
  c.shutdown(std::chrono::steady_clock::now());
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
