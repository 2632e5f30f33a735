#include "src/admin/admin.h"

#include <gtest/gtest.h>

#include <atomic>

#include "absl/strings/escaping.h"
#include "src/net/http_client.h"
#include "src/net/http_test_util.h"
#include "src/runtime/registry.h"

namespace telegate::admin {
namespace {

net::HttpRequest req(std::string method, std::string path,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  r.headers = std::move(headers);
  return r;
}

std::pair<std::string, std::string> basic(std::string_view user_pass) {
  return {"Authorization",
          "Basic " + absl::Base64Escape(absl::string_view(user_pass.data(), user_pass.size()))};
}

// An admin server wired to a controller the way src/main/app.cc wires them.
class AdminTest : public ::testing::Test {
 protected:
  AdminTest() {
    runtime::ControllerOptions o;
    o.registry = &registry_;
    o.metrics = &metrics_;
    o.storage_path = ::testing::TempDir();
    o.on_http_block = [this](const runtime::HttpBlockArgs& a) {
      if (admin_) admin_->setHttpConfig(a);
    };
    ctl_ = std::make_unique<runtime::Controller>(o);
    admin_ = std::make_unique<AdminServer>("127.0.0.1:0", *ctl_, metrics_, [this] {
      reloads_++;
      return load(next_config_) ? ReloadOutcome{true, ""} : ReloadOutcome{false, "bad"};
    });
  }
  ~AdminTest() override {
    admin_.reset();
    ctl_.reset();
  }
  bool load(const std::string& text, std::string* diags = nullptr) {
    auto r = ctl_->load({std::make_shared<syntax::SourceFile>("c.alloy", text)});
    if (diags != nullptr) *diags = r.formatted();
    return r.ok;
  }

  runtime::Registry registry_;
  metrics::Registry metrics_;
  std::unique_ptr<runtime::Controller> ctl_;
  std::unique_ptr<AdminServer> admin_;
  std::atomic<int> reloads_{0};
  std::string next_config_;
};

constexpr const char* kAuthConfig = R"(
http {
  auth {
    basic {
      username = "ops"
      password = "pw"
    }
    filter {
      paths                       = ["/metrics"]
      authenticate_matching_paths = false
    }
  }
}
)";

TEST_F(AdminTest, GetDoesNotReload) {
  ASSERT_TRUE(load(""));
  auto r = admin_->handle(req("GET", "/-/reload"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(reloads_.load(), 0);
  r = admin_->handle(req("POST", "/-/reload"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(reloads_.load(), 1);
}

TEST_F(AdminTest, OnlyProbesAnswerBeforeTheFirstLoad) {
  EXPECT_EQ(admin_->handle(req("GET", "/metrics")).status, 503);
  EXPECT_EQ(admin_->handle(req("POST", "/-/reload")).status, 503);
  EXPECT_EQ(reloads_.load(), 0);
  EXPECT_EQ(admin_->handle(req("GET", "/-/healthy")).status, 200);
  ASSERT_TRUE(load(""));
  EXPECT_EQ(admin_->handle(req("GET", "/metrics")).status, 200);
}

TEST_F(AdminTest, HttpBlockAppliesOnLoadAndReload) {
  std::string diags;
  ASSERT_TRUE(load(kAuthConfig, &diags)) << diags;
  auto r = admin_->handle(req("GET", "/api/v0/web/components"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(admin_->handle(req("POST", "/-/reload", {basic("ops:wrong")})).status, 401);
  EXPECT_EQ(reloads_.load(), 0);
  EXPECT_EQ(admin_->handle(req("GET", "/api/v0/web/components", {basic("ops:pw")})).status, 200);
  EXPECT_EQ(admin_->handle(req("GET", "/metrics")).status, 200);
  EXPECT_EQ(admin_->handle(req("GET", "/-/healthy")).status, 200);
  EXPECT_NE(metrics_.exposition().find(
                "telegate_admin_refused_requests_total{reason=\"unauthorized\"} 2"),
            std::string::npos);

  // A reload without the block removes the access control (as Alloy does).
  next_config_ = "";
  EXPECT_EQ(admin_->handle(req("POST", "/-/reload", {basic("ops:pw")})).status, 200);
  EXPECT_EQ(admin_->handle(req("GET", "/api/v0/web/components")).status, 200);

  // A failed load keeps the policy in force.
  ASSERT_TRUE(load(kAuthConfig));
  next_config_ = "http { tls { cert_file = \"c.pem\" } }";
  EXPECT_EQ(admin_->handle(req("POST", "/-/reload", {basic("ops:pw")})).status, 400);
  EXPECT_EQ(admin_->handle(req("GET", "/api/v0/web/components")).status, 401);
}

TEST_F(AdminTest, HttpBlockErrors) {
  struct Case {
    std::string config, error;
  };
  for (const auto& c : std::vector<Case>{
           {"http { tls { cert_file = \"c.pem\" } }",
            "c.alloy:1:8: http.tls: must specify either key_pem or key_file"},
           {"http { auth { basic { username = \"u\"\n password = \"\" } } }", "must not be empty"},
           {"http { auth { basic { username = \"u:v\"\n password = \"p\" } } }",
            "must not contain ':'"},
           {"http { auth { basic { username = \"u\" } } }", "password"},
           {"http \"x\" { }", "does not support labels"},
           {"http { }\nhttp { }", "already declared"},
           {"http { auth { filter { paths = 1 } } }", "paths"},
       }) {
    std::string diags;
    EXPECT_FALSE(load(c.config, &diags)) << c.config;
    EXPECT_NE(diags.find(c.error), std::string::npos) << c.config << "\n" << diags;
  }
}

TEST_F(AdminTest, FilterThatProtectsNothingIsAWarning) {
  std::string diags;
  ASSERT_TRUE(load(
      "http { auth {\n basic { username = \"u\"\n password = \"p\" }\n filter { }\n} }", &diags));
  EXPECT_NE(diags.find("no path needs the credential"), std::string::npos) << diags;
}

TEST_F(AdminTest, OverTheNetworkRefusalsCarryTheirHeaders) {
  ASSERT_TRUE(admin_->start().ok());
  ASSERT_TRUE(load(kAuthConfig));
  net::HttpClient client;
  const std::string base = "http://" + admin_->boundAddress();
  net::HttpClientRequest get;
  get.method = "GET";
  get.url = base + "/api/v0/web/components";
  get.timeout = std::chrono::seconds(5);
  auto r = client.send(get);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->header("www-authenticate"), kBasicChallenge);

  net::HttpClientRequest reload;
  reload.method = "GET";
  reload.url = base + "/-/reload";
  reload.headers = {basic("ops:pw")};
  reload.timeout = std::chrono::seconds(5);
  r = client.send(reload);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "POST");
  EXPECT_EQ(reloads_.load(), 0);

  // A reload body above the small limit is refused.
  reload.method = "POST";
  reload.body = std::string(kMaxReloadBodyBytes + 1, 'x');
  r = client.send(reload);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(reloads_.load(), 0);
  admin_->stop();
}

TEST_F(AdminTest, RefusedAtTheHeadersWithoutContinueOrReadingTheBody) {
  ASSERT_TRUE(admin_->start().ok());
  ASSERT_TRUE(load(kAuthConfig));
  net::Conn c(admin_->server().port());
  ASSERT_TRUE(c.connected());
  // A body the server would accept by size; the refusal must come before 100 Continue.
  ASSERT_TRUE(
      c.send("POST /-/reload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
             "Content-Length: 1000\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->headers["www-authenticate"], kBasicChallenge);
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(c.waitClosed());
  EXPECT_EQ(reloads_.load(), 0);

  // An authenticated GET of a path that takes no body, announcing one: 413 before the body.
  net::Conn c2(admin_->server().port());
  ASSERT_TRUE(c2.send(
      "GET /api/v0/web/components HTTP/1.1\r\nHost: x\r\nAuthorization: " + basic("ops:pw").second +
      "\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n"));
  r = c2.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  admin_->stop();
}

}  // namespace
}  // namespace telegate::admin
