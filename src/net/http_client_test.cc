#include "src/net/http_client.h"

#include <gtest/gtest.h>

#include "src/net/http_server.h"

namespace telegate::net {
namespace {

TEST(HttpClientTest, PostsAndReadsResponse) {
  HttpServerOptions o;
  HttpServer server(o, [](const HttpRequest& r) {
    HttpResponse resp = HttpResponse::text(r.body == "ping" ? 429 : 400, "body:" + r.body);
    resp.headers.emplace_back("Retry-After", "7");
    resp.headers.emplace_back("X-Seen-Tenant", std::string(r.header("X-Scope-OrgID")));
    return resp;
  });
  ASSERT_TRUE(server.start().ok());
  HttpClient client;
  HttpClientRequest req;
  req.url = "http://" + server.boundAddress() + "/push";
  req.body = "ping";
  req.headers = {{"X-Scope-OrgID", "team-a"}};
  for (int i = 0; i < 3; ++i) {  // connection reuse
    auto r = client.send(req);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->body, "body:ping");
    EXPECT_EQ(r->header("retry-after"), "7");
    EXPECT_EQ(r->header("x-seen-tenant"), "team-a");
  }
  server.stop();
}

TEST(HttpClientTest, TransportFailureIsUnavailable) {
  HttpClient client;
  HttpClientRequest req;
  req.url = "http://127.0.0.1:1/nothing";
  req.timeout = std::chrono::milliseconds(2000);
  auto r = client.send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST(RetryAfterTest, SecondsAndDates) {
  EXPECT_EQ(parseRetryAfter("5"), std::chrono::seconds(5));
  EXPECT_EQ(parseRetryAfter(""), std::nullopt);
  EXPECT_EQ(parseRetryAfter("soon"), std::nullopt);
  auto now = std::chrono::system_clock::from_time_t(784111777);  // 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:50:37 GMT", now), std::chrono::seconds(60));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:40:37 GMT", now), std::chrono::seconds(0));
}

}  // namespace
}  // namespace telegate::net
