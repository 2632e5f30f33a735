// Tests of net::HttpServer's header stage, memory charging, deadlines and connection shedding.
#include <atomic>
#include <string>

#include "src/net/http_server.h"
#include "src/net/http_test_util.h"

namespace telegate::net {
namespace {

HeaderCheck bearerCheck(std::atomic<int>* checks) {
  return [checks](const HttpRequest& req) {
    checks->fetch_add(1);
    EXPECT_TRUE(req.body.empty());
    if (req.header("Authorization") != "Bearer good") {
      HttpResponse r = HttpResponse::text(401, "unauthenticated\n");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return HeaderDecision::refuse(std::move(r));
    }
    return HeaderDecision::accept(std::make_shared<const std::string>("client-a"));
  };
}

TEST(HttpServerHeaderCheckTest, RefusesWithoutContinueOrReadingTheBody) {
  std::atomic<int> checks{0};
  std::atomic<int> handled{0};
  HttpServerOptions o;
  o.max_body_bytes = 8 << 20;
  o.header_check = bearerCheck(&checks);
  auto srv = startServer(o, [&](HttpRequest& req) {
    handled.fetch_add(1);
    const auto* who = static_cast<const std::string*>(req.state.get());
    return HttpResponse::text(
        200, (who ? *who : std::string("none")) + " " + std::to_string(req.body.size()));
  });
  {
    // Expect: 100-continue with a wrong token: 401 at once, never 100 Continue.
    Conn c(srv->port());
    ASSERT_TRUE(
        c.send("POST /u HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer bad\r\n"
               "Content-Length: 3000000\r\nExpect: 100-continue\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_EQ(r->headers["www-authenticate"], "Bearer");
    EXPECT_TRUE(c.waitClosed());
  }
  {
    // No Expect, no token, the client starts uploading at once: it sees 401 while the body is
    // still being sent (it has sent 64 KiB of 3 MB), and the connection is closed.
    Conn c(srv->port());
    ASSERT_TRUE(c.send("POST /u HTTP/1.1\r\nHost: t\r\nContent-Length: 3000000\r\n\r\n"));
    ASSERT_TRUE(c.send(std::string(64 << 10, 'x')));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->headers["connection"], "close");
  }
  {
    // The good token: 100 Continue, body read, the handler gets the check's state.
    Conn c(srv->port());
    ASSERT_TRUE(
        c.send("POST /u HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n"
               "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
    auto interim = c.readResponse();
    ASSERT_TRUE(interim);
    EXPECT_EQ(interim->status, 100);
    ASSERT_TRUE(c.send("hello"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "client-a 5");
  }
  {
    // A refused request without a body keeps its keep-alive connection.
    Conn c(srv->port());
    ASSERT_TRUE(c.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    ASSERT_TRUE(c.send("GET /x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n\r\n"));
    r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "client-a 0");
  }
  EXPECT_EQ(checks.load(), 5);
  EXPECT_EQ(handled.load(), 2);
}

TEST(HttpServerHeaderCheckTest, ThrowingCheckGives500) {
  HttpServerOptions o;
  o.header_check = [](const HttpRequest&) -> HeaderDecision { throw std::runtime_error("x"); };
  auto srv = startServer(o);
  Conn c(srv->port());
  ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
}

}  // namespace
}  // namespace telegate::net
