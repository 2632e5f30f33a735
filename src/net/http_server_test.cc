#include "src/net/http_server.h"

#include "src/net/http_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "gtest/gtest.h"

namespace telegate::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(SplitHostPortTest, Cases) {
  auto ok = [](std::string_view a) {
    auto r = splitHostPort(a);
    EXPECT_TRUE(r.ok()) << a << ": " << r.status();
    return r.ok() ? *r : std::pair<std::string, uint16_t>{};
  };
  EXPECT_EQ(ok("127.0.0.1:4318"), (std::pair<std::string, uint16_t>{"127.0.0.1", 4318}));
  EXPECT_EQ(ok("0.0.0.0:0"), (std::pair<std::string, uint16_t>{"0.0.0.0", 0}));
  EXPECT_EQ(ok("[::1]:80"), (std::pair<std::string, uint16_t>{"::1", 80}));
  EXPECT_EQ(ok("[::]:65535"), (std::pair<std::string, uint16_t>{"::", 65535}));
  EXPECT_EQ(ok("localhost:12345"), (std::pair<std::string, uint16_t>{"localhost", 12345}));
  EXPECT_EQ(ok(":4318"), (std::pair<std::string, uint16_t>{"", 4318}));
  for (std::string_view bad : {"127.0.0.1", "127.0.0.1:", "host:abc", "host:65536", "::1:80",
                               "[::1]", "[::1", "[::1]80", "host:-1", "host:80x"}) {
    EXPECT_FALSE(splitHostPort(bad).ok()) << bad;
  }
  EXPECT_EQ(splitHostPort("127.0.0.1").status().message(),
            "address 127.0.0.1: missing port in address");
  EXPECT_EQ(joinHostPort("::1", 80), "[::1]:80");
  EXPECT_EQ(joinHostPort("127.0.0.1", 80), "127.0.0.1:80");
}

TEST(HttpServerTest, BoundAddressAndPortInUse) {
  auto srv = startServer();
  ASSERT_NE(srv->port(), 0);
  EXPECT_EQ(srv->boundAddress(), "127.0.0.1:" + std::to_string(srv->port()));

  HttpServerOptions o;
  o.listen_addr = srv->boundAddress();
  HttpServer second(o, echoHandler);
  auto st = second.start();
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "listen tcp " + o.listen_addr + ": address already in use");

  HttpServerOptions bad;
  bad.listen_addr = "127.0.0.1";
  HttpServer third(bad, echoHandler);
  EXPECT_FALSE(third.start().ok());
}

TEST(HttpServerTest, LocalhostName) {
  HttpServerOptions o;
  o.listen_addr = "localhost:0";
  auto srv = startServer(o);
  ASSERT_NE(srv->port(), 0);
}

TEST(HttpServerTest, GetAndPostRoundTrip) {
  auto srv = startServer();
  Conn c(srv->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /hello?x=1&y=2 HTTP/1.1\r\nHost: t\r\nX-Test: abc\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /hello x=1&y=2 [abc] ");
  EXPECT_EQ(r->headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(r->headers["x-echo-method"], "GET");
  EXPECT_EQ(r->headers["content-length"], std::to_string(r->body.size()));
  EXPECT_TRUE(r->headers.count("date"));

  ASSERT_TRUE(
      c.send("POST /v1/traces HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world"));
  r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /v1/traces  [] hello world");

  // Chunked request body.
  ASSERT_TRUE(
      c.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "POST /c  [] hello world");
}

TEST(HttpServerTest, RemoteAddrAndHeaders) {
  HttpRequest seen;
  auto srv = startServer({}, [&](const HttpRequest& req) {
    seen = req;
    return HttpResponse::text(204, "ignored");
  });
  Conn c(srv->port());
  ASSERT_TRUE(c.send("DELETE /x HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nx-a: 2\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_FALSE(r->headers.count("content-length"));
  EXPECT_EQ(seen.method, "DELETE");
  EXPECT_EQ(seen.remote_addr.rfind("127.0.0.1:", 0), 0u) << seen.remote_addr;
  EXPECT_EQ(seen.header("X-a"), "1");
  EXPECT_EQ(seen.header("missing"), "");
  ASSERT_EQ(seen.headers.size(), 3u);
  EXPECT_EQ(seen.headers[1].first, "X-A");
  EXPECT_EQ(seen.version, 11);
}

TEST(HttpServerTest, KeepAliveAndHttp10) {
  std::atomic<int> calls{0};
  auto srv = startServer({}, [&](const HttpRequest& req) {
    ++calls;
    return echoHandler(req);
  });
  {
    Conn c(srv->port());
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(c.send("GET /k HTTP/1.1\r\nHost: t\r\n\r\n"));
      auto r = c.readResponse();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
      EXPECT_FALSE(r->headers.count("connection"));
    }
    EXPECT_EQ(srv->openConnections(), 1u);
    // Client asks to close.
    ASSERT_TRUE(c.send("GET /k HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_TRUE(c.waitClosed());
  }
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send("GET /old HTTP/1.0\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->raw_head.substr(0, 8), "HTTP/1.0");
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_TRUE(c.waitClosed());
  }
  {
    Conn c(srv->port());
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(c.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
      auto r = c.readResponse();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->headers["connection"], "keep-alive");
    }
  }
  EXPECT_EQ(calls.load(), 6);
  EXPECT_TRUE(waitFor([&] { return srv->openConnections() == 0; }));
}

TEST(HttpServerTest, PipelinedRequestsAnsweredInOrder) {
  auto srv = startServer();
  Conn c(srv->port());
  ASSERT_TRUE(c.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r1 = c.readResponse();
  auto r2 = c.readResponse();
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->body, "GET /a  [] ");
  EXPECT_EQ(r2->body, "GET /b  [] ");
}

TEST(HttpServerTest, HeadOmitsBody) {
  auto srv = startServer();
  Conn c(srv->port());
  ASSERT_TRUE(c.send("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.readResponse(/*head_request=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->headers["content-length"], std::to_string(std::string("HEAD /h  [] ").size()));
  // The next response must start right away (no body bytes in between).
  ASSERT_TRUE(c.send("GET /g HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "GET /g  [] ");
}

TEST(HttpServerTest, BodyOverLimitGets413WithoutReadingBody) {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  std::atomic<int> calls{0};
  auto srv = startServer(o, [&](const HttpRequest& req) {
    ++calls;
    return echoHandler(req);
  });
  {
    // Declared length far over the limit; the body is never sent.
    Conn c(srv->port());
    auto start = Clock::now();
    ASSERT_TRUE(c.send("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n"));
    ASSERT_TRUE(c.send(std::string(4096, 'x')));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_LT(Clock::now() - start, 2s);
    EXPECT_TRUE(c.waitClosed());
  }
  {
    // Chunked body growing past the limit.
    Conn c(srv->port());
    ASSERT_TRUE(c.send("POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
    std::string chunk = "200\r\n" + std::string(512, 'y') + "\r\n";
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.send(chunk));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
  {
    // Exactly at the limit is fine.
    Conn c(srv->port());
    ASSERT_TRUE(c.send("POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n" +
                       std::string(1024, 'z')));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, MalformedRequestGets400AndServerKeepsServing) {
  auto srv = startServer();
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send("\x01\x02 garbage garbage\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_TRUE(c.waitClosed());
  }
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
  }
  Conn c(srv->port());
  ASSERT_TRUE(c.send("GET /after HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServerTest, HeaderTooLargeGets431) {
  HttpServerOptions o;
  o.max_header_bytes = 4096;
  auto srv = startServer(o);
  Conn c(srv->port());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(8192, 'a') + "\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
}

TEST(HttpServerTest, HandlerExceptionGives500) {
  auto srv = startServer();
  Conn c(srv->port());
  ASSERT_TRUE(c.send("GET /throw HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  ASSERT_TRUE(c.send("GET /fine HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServerTest, Expect100Continue) {
  HttpServerOptions o;
  o.max_body_bytes = 1 << 20;
  auto srv = startServer(o);
  {
    Conn c(srv->port());
    ASSERT_TRUE(
        c.send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
               "Expect: 100-continue\r\n\r\n"));
    auto interim = c.readResponse();
    ASSERT_TRUE(interim);
    EXPECT_EQ(interim->status, 100);
    ASSERT_TRUE(c.send("hello"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "POST /e  [] hello");
  }
  {
    // Too large: 413 straight away, no 100 Continue.
    Conn c(srv->port());
    ASSERT_TRUE(
        c.send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n"
               "Expect: 100-continue\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
}

TEST(HttpServerTest, SlowlorisClosedAfterHeaderTimeoutWhileOthersServed) {
  HttpServerOptions o;
  o.header_timeout = 300ms;
  auto srv = startServer(o);
  Conn slow(srv->port());
  auto start = Clock::now();
  ASSERT_TRUE(slow.send("GET / HTTP/1.1\r\nHost: t\r\n"));  // never finished
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(slow.send("X-Drip: 1\r\n"));

  // Another client is served meanwhile.
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send("GET /other HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_LT(Clock::now() - start, 250ms);
  }

  EXPECT_TRUE(slow.waitClosed());
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);

  // A connection that never sends anything is closed too.
  Conn silent(srv->port());
  start = Clock::now();
  EXPECT_TRUE(silent.waitClosed());
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(HttpServerTest, IdleKeepAliveConnectionClosed) {
  HttpServerOptions o;
  o.idle_timeout = 200ms;
  auto srv = startServer(o);
  Conn c(srv->port());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(c.readResponse());
  auto start = Clock::now();
  EXPECT_TRUE(c.waitClosed());
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 2s);
}

TEST(HttpServerTest, SlowBodyHitsReadTimeout) {
  HttpServerOptions o;
  o.read_timeout = 300ms;
  auto srv = startServer(o);
  Conn c(srv->port());
  auto start = Clock::now();
  ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc"));
  EXPECT_TRUE(c.waitClosed());
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);
}

TEST(HttpServerTest, MaxConnections) {
  HttpServerOptions o;
  o.max_connections = 1;
  auto srv = startServer(o);
  {
    // A connection inside a request (past its header) is never shed for a new one.
    Conn first(srv->port());
    ASSERT_TRUE(first.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab"));
    std::this_thread::sleep_for(50ms);
    Conn second(srv->port());
    EXPECT_TRUE(second.waitClosed());
    ASSERT_TRUE(first.send("cd"));
    auto r = first.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  ASSERT_TRUE(waitFor([&] { return srv->openConnections() == 0; }));
  Conn third(srv->port());
  ASSERT_TRUE(third.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = third.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServerTest, StopWithOpenConnectionsIsPrompt) {
  HttpServerOptions o;
  o.io_threads = 2;
  auto srv = startServer(o);
  Conn idle(srv->port());
  Conn partial(srv->port());
  ASSERT_TRUE(partial.send("GET / HTTP/1.1\r\nHo"));
  Conn kept(srv->port());
  ASSERT_TRUE(kept.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(kept.readResponse());
  Conn body(srv->port());
  ASSERT_TRUE(body.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab"));
  ASSERT_TRUE(waitFor([&] { return srv->openConnections() == 4; }));

  auto start = Clock::now();
  srv->stop();
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_EQ(srv->openConnections(), 0u);
  EXPECT_TRUE(idle.waitClosed());
  EXPECT_TRUE(partial.waitClosed());
  EXPECT_TRUE(kept.waitClosed());
  EXPECT_TRUE(body.waitClosed());
  srv->stop();  // idempotent
  Conn after(srv->port());
  EXPECT_FALSE(after.connected());
}

TEST(HttpServerTest, ConcurrentBeastClients) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  HttpServerOptions o;
  o.io_threads = 4;
  std::atomic<int> calls{0};
  auto srv = startServer(o, [&](const HttpRequest& req) {
    ++calls;
    return echoHandler(req);
  });
  constexpr int kClients = 8;
  constexpr int kRequests = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      try {
        boost::asio::io_context ioc;
        boost::asio::ip::tcp::socket sock(ioc);
        sock.connect({boost::asio::ip::make_address("127.0.0.1"), srv->port()});
        beast::flat_buffer buf;
        for (int i = 0; i < kRequests; ++i) {
          http::request<http::string_body> req{http::verb::post, "/c?t=" + std::to_string(t), 11};
          req.set(http::field::host, "127.0.0.1");
          req.body() = "body-" + std::to_string(i);
          req.prepare_payload();
          http::write(sock, req);
          http::response<http::string_body> res;
          http::read(sock, buf, res);
          if (res.result_int() == 200 &&
              res.body() == "POST /c t=" + std::to_string(t) + " [] body-" + std::to_string(i)) {
            ++ok;
          }
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
  EXPECT_EQ(calls.load(), kClients * kRequests);
}

}  // namespace
}  // namespace telegate::net
