#include "src/admin/access.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace telegate::admin {
namespace {

runtime::HttpBlockArgs basicAuth(std::optional<runtime::HttpAuthFilterBlock> filter) {
  runtime::HttpBlockArgs a;
  a.auth.emplace();
  a.auth->basic.emplace();
  a.auth->basic->username = "admin";
  a.auth->basic->password.value = "s3cret:with:colons";
  a.auth->filter = std::move(filter);
  return a;
}

runtime::HttpAuthFilterBlock filter(std::vector<std::string> paths, bool match) {
  runtime::HttpAuthFilterBlock f;
  f.paths = std::move(paths);
  f.authenticate_matching_paths = match;
  return f;
}

std::string basic(std::string_view user_pass, std::string_view scheme = "Basic ") {
  return std::string(scheme) +
         absl::Base64Escape(absl::string_view(user_pass.data(), user_pass.size()));
}

net::HttpRequest req(std::string method, std::string path,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  r.headers = std::move(headers);
  return r;
}

std::string headerOf(const net::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(AdminAccess, ReloadOnlyOnPostWith405AndAllow) {
  AccessPolicy open;
  for (const char* m : {"GET", "HEAD", "PUT", "DELETE"}) {
    Refusal why;
    auto r = checkHead(open, req(m, "/-/reload"), &why);
    ASSERT_TRUE(r.has_value()) << m;
    EXPECT_EQ(r->status, 405) << m;
    EXPECT_EQ(headerOf(*r, "Allow"), "POST");
    EXPECT_EQ(why, Refusal::kMethodNotAllowed);
  }
  EXPECT_FALSE(checkHead(open, req("POST", "/-/reload")).has_value());
  auto r = checkHead(open, req("POST", "/metrics"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(headerOf(*r, "Allow"), "GET, HEAD");
  EXPECT_FALSE(checkHead(open, req("GET", "/metrics")).has_value());
  EXPECT_FALSE(checkHead(open, req("HEAD", "/-/ready")).has_value());
  // Unknown paths fall through to the handler's 404 whatever the method.
  EXPECT_FALSE(checkHead(open, req("DELETE", "/nope")).has_value());
}

TEST(AdminAccess, BodiesOnlyOnReloadAndSmall) {
  AccessPolicy open;
  auto r = checkHead(open, req("GET", "/metrics", {{"Content-Length", "10"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  r = checkHead(open, req("GET", "/-/healthy", {{"Transfer-Encoding", "chunked"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_FALSE(checkHead(open, req("GET", "/metrics", {{"Content-Length", "0"}})).has_value());
  EXPECT_FALSE(checkHead(open, req("POST", "/-/reload", {{"Content-Length", "4096"}})));
  r = checkHead(open, req("POST", "/-/reload", {{"Content-Length", "4097"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  r = checkHead(open, req("POST", "/-/reload", {{"Content-Length", "12x"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
}

TEST(AdminAccess, WithoutFilterEveryPathButTheProbesNeedsTheCredential) {
  AccessPolicy p(basicAuth(std::nullopt));
  for (const char* path : {"/", "/metrics", "/-/reload", "/api/v0/web/components", "/x"}) {
    EXPECT_TRUE(p.needsCredential(path)) << path;
  }
  EXPECT_FALSE(p.needsCredential("/-/ready"));
  EXPECT_FALSE(p.needsCredential("/-/healthy"));
  // No basic block: nothing needs a credential, whatever the filter says.
  runtime::HttpBlockArgs no_basic;
  no_basic.auth.emplace();
  no_basic.auth->filter = filter({"/"}, true);
  EXPECT_FALSE(AccessPolicy(no_basic).needsCredential("/-/reload"));
  EXPECT_FALSE(AccessPolicy().needsCredential("/-/reload"));
}

TEST(AdminAccess, FilterIncludesOrExcludesPathPrefixesAsAlloy) {
  AccessPolicy include(basicAuth(filter({"/metrics", "/api"}, true)));
  EXPECT_TRUE(include.needsCredential("/metrics"));
  EXPECT_TRUE(include.needsCredential("/api/v0/web/components/x"));
  EXPECT_FALSE(include.needsCredential("/-/reload"));
  EXPECT_FALSE(include.needsCredential("/"));

  AccessPolicy exclude(basicAuth(filter({"/metrics"}, false)));
  EXPECT_FALSE(exclude.needsCredential("/metrics"));
  EXPECT_TRUE(exclude.needsCredential("/-/reload"));
  EXPECT_TRUE(exclude.needsCredential("/api/v0/web/components"));
  EXPECT_FALSE(exclude.needsCredential("/-/ready"));
  EXPECT_FALSE(exclude.needsCredential("/-/healthy"));

  // A filter block with its defaults (match = true, no paths) protects nothing, as in Alloy.
  AccessPolicy empty(basicAuth(runtime::HttpAuthFilterBlock{}));
  EXPECT_FALSE(empty.needsCredential("/-/reload"));
}

TEST(AdminAccess, ProbesNeedTheCredentialOnlyWhenNamed) {
  AccessPolicy catch_all(basicAuth(filter({"/"}, true)));
  EXPECT_TRUE(catch_all.needsCredential("/-/reload"));
  EXPECT_FALSE(catch_all.needsCredential("/-/ready"));
  EXPECT_FALSE(catch_all.needsCredential("/-/healthy"));
  AccessPolicy named(basicAuth(filter({"/", "/-/healthy"}, true)));
  EXPECT_TRUE(named.needsCredential("/-/healthy"));
  EXPECT_FALSE(named.needsCredential("/-/ready"));
  AccessPolicy both(basicAuth(filter({"/-/"}, true)));
  EXPECT_TRUE(both.needsCredential("/-/healthy"));
  EXPECT_TRUE(both.needsCredential("/-/ready"));
  EXPECT_TRUE(both.needsCredential("/-/reload"));
}

TEST(AdminAccess, BasicCredentialCheck) {
  AccessPolicy p(basicAuth(std::nullopt));
  EXPECT_TRUE(p.credentialValid(basic("admin:s3cret:with:colons")));
  EXPECT_TRUE(p.credentialValid(basic("admin:s3cret:with:colons", "basic ")));
  EXPECT_TRUE(p.credentialValid(basic("admin:s3cret:with:colons", "BASIC   ")));
  EXPECT_FALSE(p.credentialValid(basic("admin:s3cret:with:colons", "Basic\t")));
  EXPECT_FALSE(p.credentialValid(basic("admin:s3cret:with:colons", "Basic")));
  EXPECT_FALSE(p.credentialValid(basic("admin:s3cret:with:colon")));
  EXPECT_FALSE(p.credentialValid(basic("Admin:s3cret:with:colons")));
  EXPECT_FALSE(p.credentialValid(basic("admin")));
  EXPECT_FALSE(p.credentialValid(basic(":")));
  EXPECT_FALSE(p.credentialValid("Bearer " + absl::Base64Escape("admin:s3cret:with:colons")));
  EXPECT_FALSE(p.credentialValid("Basic !!!not-base64!!!"));
  EXPECT_FALSE(p.credentialValid("Basic "));
  EXPECT_FALSE(p.credentialValid(""));
}

TEST(AdminAccess, RefusedRequestGets401WithBasicChallenge) {
  AccessPolicy p(basicAuth(filter({"/metrics"}, false)));
  Refusal why;
  auto r = checkHead(p, req("POST", "/-/reload"), &why);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(why, Refusal::kUnauthorized);
  EXPECT_EQ(headerOf(*r, "WWW-Authenticate"), "Basic realm=\"telegate\", charset=\"UTF-8\"");
  // Authentication is judged before the method: an unauthenticated GET learns nothing more.
  r = checkHead(p, req("GET", "/-/reload"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 401);
  auto cred = std::make_pair(std::string("Authorization"), basic("admin:s3cret:with:colons"));
  EXPECT_FALSE(checkHead(p, req("POST", "/-/reload", {cred})).has_value());
  r = checkHead(p, req("GET", "/-/reload", {cred}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 405);
  EXPECT_FALSE(checkHead(p, req("GET", "/metrics")).has_value());
  EXPECT_FALSE(checkHead(p, req("GET", "/-/ready")).has_value());
}

}  // namespace
}  // namespace telegate::admin
