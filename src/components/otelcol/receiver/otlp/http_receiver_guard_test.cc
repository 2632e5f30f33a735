// The OTLP/HTTP receiver judges requests at their headers and charges bodies to the memory
// budget (see http_receiver.h "Header stage" and "Memory").
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "src/common/decompress.h"
#include "src/common/memory_budget.h"
#include "src/components/otelcol/receiver/otlp/http_receiver.h"
#include "src/net/http_test_util.h"
#include "src/pdata/otlp_decode.h"

namespace telegate::otelcol::receiver_otlp {
namespace {

using net::Conn;
using pdata::Signal;
using namespace std::chrono_literals;
namespace logs_pb = opentelemetry::proto::collector::logs::v1;

constexpr std::string_view kBearer = "Authorization: Bearer good-token\r\n";

class CountingDispatcher : public Dispatcher {
 public:
  bool hasSignal(Signal) const override { return true; }
  absl::Status dispatch(Signal, std::string&& wire, std::shared_ptr<const pdata::ClientInfo> c,
                        Protocol) override {
    std::lock_guard<std::mutex> lk(mu);
    ++dispatched;
    tenants.push_back(c ? c->tenant : "");
    return pdata::checkAndCount(Signal::kLogs, wire).status();
  }
  void countRefused(Signal, Protocol, std::string_view reason) override {
    std::lock_guard<std::mutex> lk(mu);
    reasons.emplace_back(reason);
  }
  int retryAfterSeconds() const override { return 7; }

  std::mutex mu;
  int dispatched = 0;
  std::vector<std::string> tenants;
  std::vector<std::string> reasons;
};

class CountingAuth : public AuthHandler {
 public:
  AuthResult authenticate(const HeaderLookup& header) const override {
    calls.fetch_add(1);
    AuthResult r;
    if (header("authorization") != "Bearer good-token") {
      r.reason = "invalid_token";
      r.message = "scheme or token does not match";
      return r;
    }
    r.ok = true;
    auto ci = std::make_shared<pdata::ClientInfo>();
    ci->tenant = "tenant-a";
    r.client = ci;
    return r;
  }
  mutable std::atomic<int> calls{0};
};

std::string logsWire(size_t body_bytes = 5) {
  logs_pb::ExportLogsServiceRequest req;
  auto* rec = req.add_resource_logs()->add_scope_logs()->add_log_records();
  rec->mutable_body()->set_string_value(std::string(body_bytes, 'x'));
  return req.SerializeAsString();
}

std::string post(std::string_view path, std::string_view type, std::string_view extra,
                 size_t length) {
  return "POST " + std::string(path) +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: " + std::string(type) +
         "\r\nContent-Length: " + std::to_string(length) + "\r\n" + std::string(extra) + "\r\n";
}

struct Served {
  CountingDispatcher d;
  std::shared_ptr<CountingAuth> auth = std::make_shared<CountingAuth>();
  std::unique_ptr<HttpReceiver> rx;
  uint16_t port = 0;

  explicit Served(HttpReceiverOptions opts = {}) {
    opts.endpoint = "127.0.0.1:0";
    opts.max_request_body_size = 8 << 20;
    rx = std::make_unique<HttpReceiver>(opts, d, [this] { return auth; });
    EXPECT_TRUE(rx->start().ok());
    const std::string addr = rx->boundAddress();
    port = static_cast<uint16_t>(std::stoi(addr.substr(addr.find(':') + 1)));
  }
};

TEST(HttpReceiverGuardTest, WrongTokenGets401BeforeContinueAndWithoutTheBody) {
  Served s;
  {
    Conn c(s.port);
    ASSERT_TRUE(c.send(post("/v1/logs", "application/x-protobuf",
                            "Authorization: Bearer bad\r\nExpect: 100-continue\r\n", 3000000)));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);  // not 100 Continue
    EXPECT_EQ(r->headers["www-authenticate"], "Bearer");
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_TRUE(c.waitClosed());
  }
  {
    // No Authorization, uploading without waiting: 401 arrives while 2.9 MB are still unsent.
    Conn c(s.port);
    ASSERT_TRUE(c.send(post("/v1/logs", "application/x-protobuf", "", 3000000)));
    ASSERT_TRUE(c.send(std::string(64 << 10, 'x')));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
  }
  {
    // The good token: authenticated once, at the headers; the body stage gets the client.
    Conn c(s.port);
    const std::string wire = logsWire();
    ASSERT_TRUE(c.send(post("/v1/logs", "application/x-protobuf", kBearer, wire.size()) + wire));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(s.auth->calls.load(), 3);
  std::lock_guard<std::mutex> lk(s.d.mu);
  EXPECT_EQ(s.d.dispatched, 1);
  EXPECT_EQ(s.d.tenants, std::vector<std::string>{"tenant-a"});
  EXPECT_EQ(s.d.reasons, (std::vector<std::string>{"unauthenticated", "unauthenticated"}));
}

TEST(HttpReceiverGuardTest, PathMethodTypeAndEncodingJudgedAtTheHeaders) {
  Served s;
  struct Case {
    std::string request;
    int status;
  } cases[] = {
      {post("/v1/nope", "application/x-protobuf", kBearer, 1000), 404},
      {"PUT /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n" + std::string(kBearer), 405},
      {post("/v1/logs", "text/plain", kBearer, 1000), 415},
      {post("/v1/logs", "application/x-protobuf", std::string(kBearer) + "Content-Encoding: br\r\n",
            1000),
       400},
  };
  for (const Case& k : cases) {
    Conn c(s.port);
    std::string req = k.request;
    if (req.find("\r\n\r\n") == std::string::npos) req += "\r\n";
    req.insert(req.size() - 2, "Expect: 100-continue\r\n");
    ASSERT_TRUE(c.send(req));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, k.status) << k.request;
    EXPECT_EQ(r->headers["connection"], "close");
  }
  std::lock_guard<std::mutex> lk(s.d.mu);
  EXPECT_EQ(s.d.dispatched, 0);
}

TEST(HttpReceiverGuardTest, DeclaredBodyOverTheBudgetGets429AtTheHeaders) {
  MemoryBudget budget(64 << 10);
  HttpReceiverOptions opts;
  opts.memory_budget = &budget;
  Served s(opts);
  Conn c(s.port);
  ASSERT_TRUE(c.send(post("/v1/logs", "application/x-protobuf",
                          std::string(kBearer) + "Expect: 100-continue\r\n", 100 << 10)));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->headers["retry-after"], "7");
  EXPECT_EQ(budget.used(), 0u);
}

net::HttpRequest request(std::string body, std::string type, std::string encoding) {
  net::HttpRequest r;
  r.method = "POST";
  r.path = "/v1/logs";
  r.headers = {{"Content-Type", std::move(type)}};
  if (!encoding.empty()) r.headers.emplace_back("Content-Encoding", std::move(encoding));
  r.body = std::move(body);
  return r;
}

TEST(HttpReceiverGuardTest, DecompressedBodyIsChargedAsItGrows) {
  MemoryBudget budget(256 << 10);
  HttpReceiverOptions opts;
  opts.max_request_body_size = 8 << 20;
  opts.memory_budget = &budget;
  CountingDispatcher d;
  const std::string big = *compress("gzip", logsWire(2 << 20));  // ~2 MiB once inflated
  net::HttpResponse r =
      handleOtlpHttp(request(big, "application/x-protobuf", "gzip"), opts, d, nullptr);
  EXPECT_EQ(r.status, 429);
  ASSERT_FALSE(r.headers.empty());
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  EXPECT_EQ(r.headers[0].second, "7");
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(d.reasons, std::vector<std::string>{"memory_limit"});

  budget.setLimit(16 << 20);
  r = handleOtlpHttp(request(big, "application/x-protobuf", "gzip"), opts, d, nullptr);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(d.dispatched, 1);
}

TEST(HttpReceiverGuardTest, JsonDecodingIsChargedTheDecodersBound) {
  const std::string json = R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":)"
                           R"({"stringValue":")" +
                           std::string(100 << 10, 'j') + R"("}}]}]}]})";
  MemoryBudget budget(250 << 10);  // holds the body, not the decoder's 4x bound
  HttpReceiverOptions opts;
  opts.memory_budget = &budget;
  CountingDispatcher d;
  net::HttpResponse r = handleOtlpHttp(request(json, "application/json", ""), opts, d, nullptr);
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.body.find("memory limit reached"), std::string::npos) << r.body;
  EXPECT_EQ(budget.used(), 0u);
  budget.setLimit(1 << 20);
  r = handleOtlpHttp(request(json, "application/json", ""), opts, d, nullptr);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace telegate::otelcol::receiver_otlp
