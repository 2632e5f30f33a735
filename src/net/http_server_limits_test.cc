// Tests of net::HttpServer's header stage, memory charging, deadlines and connection shedding.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "src/common/memory_budget.h"
#include "src/common/metrics.h"

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

// The value of one sample of `name` whose labels contain `labels` (e.g. `reason="idle"`).
double sample(const metrics::Registry& reg, std::string_view name, std::string_view labels) {
  const std::string text = reg.exposition();
  size_t pos = 0;
  while ((pos = text.find(name, pos)) != std::string::npos) {
    const size_t eol = text.find('\n', pos);
    const std::string line = text.substr(pos, eol - pos);
    pos = eol;
    if (line.size() > name.size() && line[name.size()] == '{' &&
        line.find(labels) != std::string::npos) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return 0;
}

TEST(HttpServerMemoryTest, LargeBodiesAreReadInLargePiecesChargedWithTheBody) {
  MemoryBudget budget(4 << 20);
  std::atomic<size_t> charge_in_handler{0};
  std::atomic<size_t> body_in_handler{0};
  HttpServerOptions o;
  o.memory_budget = &budget;
  auto srv = startServer(o, [&](HttpRequest& req) {
    charge_in_handler = req.body_reservation.bytes();
    body_in_handler = req.body.size();
    return HttpResponse::text(200, "ok");
  });
  const size_t body = 1 << 20;
  Conn c(srv->port());
  ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body) +
                     "\r\n\r\n" + std::string(body, 'b')));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_in_handler.load(), body);
  // The read buffer grew to 64 KiB for the body; what is beyond the 4 KiB allowance is charged
  // with the body and released with it.
  EXPECT_EQ(charge_in_handler.load(), body + (64u << 10) - (4u << 10));
  EXPECT_TRUE(waitFor([&] { return budget.used() == 0; }));
}

TEST(HttpServerMemoryTest, BodiesAreChargedAndOverBudgetGets429AtTheHeaders) {
  MemoryBudget budget(1000);
  metrics::Registry reg;
  std::atomic<int> handled{0};
  std::atomic<size_t> used_in_handler{0}, charge_in_handler{0};
  HttpServerOptions o;
  o.name = "t";
  o.memory_budget = &budget;
  o.metrics = &reg;
  o.retry_after_seconds = 7;
  auto srv = startServer(o, [&](HttpRequest& req) {
    handled.fetch_add(1);
    used_in_handler = budget.used();
    charge_in_handler = req.body_reservation.bytes();
    return HttpResponse::text(200, std::to_string(req.body.size()));
  });
  {
    // Declared body above what the budget has left: 429 + Retry-After, no 100 Continue.
    Conn c(srv->port());
    ASSERT_TRUE(
        c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n"
               "Expect: 100-continue\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->headers["retry-after"], "7");
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_TRUE(c.waitClosed());
  }
  EXPECT_EQ(handled.load(), 0);
  EXPECT_EQ(sample(reg, "telegate_http_server_refused_requests_total", "memory_limit"), 1);
  {
    // Within the budget: the body is charged while the handler runs, released afterwards.
    Conn c(srv->port());
    ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 600\r\n\r\n" +
                       std::string(600, 'a')));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(used_in_handler.load(), 600u);
    EXPECT_EQ(charge_in_handler.load(), 600u);
  }
  EXPECT_TRUE(waitFor([&] { return budget.used() == 0; }));
  {
    // A body being read holds its charge; a client that goes away mid-body gives it back.
    Conn c(srv->port());
    ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 900\r\n\r\nabc"));
    EXPECT_TRUE(waitFor([&] { return budget.used() == 900; }));
  }
  EXPECT_TRUE(waitFor([&] { return budget.used() == 0; }));
  {
    // A chunked body is charged ahead as it grows: with the budget nearly used up elsewhere it
    // gets 429 before the chunk is held.
    ASSERT_TRUE(budget.tryReserve(990));
    Conn c(srv->port());
    ASSERT_TRUE(
        c.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    budget.release(990);
  }
  EXPECT_EQ(handled.load(), 1);
  EXPECT_TRUE(waitFor([&] { return budget.used() == 0; }));
}

// Large incomplete request heads are charged as the read buffer grows; one that does not fit
// the budget is shed (429, reason memory_limit); completed or closed heads give their charge back,
// and normal requests (small heads, uncharged allowance) keep working against the full budget.
TEST(HttpServerMemoryTest, LargeIncompleteHeadsAreChargedAndShedOverBudget) {
  MemoryBudget budget(200 << 10);
  metrics::Registry reg;
  HttpServerOptions o;
  o.name = "t";
  o.memory_budget = &budget;
  o.metrics = &reg;
  o.max_connections_per_client = 0;
  auto srv = startServer(o);
  auto shed = [&] {
    return sample(reg, "telegate_http_server_connections_shed_total", "\"memory_limit\"");
  };
  const std::string big_head = "POST / HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(40 << 10, 'a');
  std::vector<std::unique_ptr<Conn>> held, refused;
  for (int i = 0; i < 12; ++i) {
    auto c = std::make_unique<Conn>(srv->port());
    const size_t used_before = budget.used();
    const double shed_before = shed();
    ASSERT_TRUE(c->send(big_head));
    ASSERT_TRUE(
        waitFor([&] { return budget.used() >= used_before + (40 << 10) || shed() > shed_before; }));
    EXPECT_LE(budget.used(), budget.limit());
    (shed() > shed_before ? refused : held).push_back(std::move(c));
  }
  // Each held head is charged for its 64 KiB buffer: three fit in 200 KiB, the others are shed.
  EXPECT_EQ(held.size(), 3u);
  EXPECT_EQ(refused.size(), 9u);
  EXPECT_EQ(shed(), 9);
  for (auto& c : refused) {
    auto r = c->readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->headers["connection"], "close");
    EXPECT_EQ(r->headers["retry-after"], "1");
    EXPECT_TRUE(c->waitClosed());
  }
  const size_t held_used = budget.used();
  EXPECT_GE(held_used, 3u * (40 << 10));
  {
    // Small heads need no charge: they work while the budget is taken by the held heads, and a
    // small body still fits what is left.
    Conn c(srv->port());
    ASSERT_TRUE(c.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_TRUE(c.send("POST /y HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
    r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "POST /y  [] hello");
  }
  EXPECT_EQ(budget.used(), held_used);
  {
    // A held head that completes is dispatched, and its charge is given back.
    ASSERT_TRUE(held[0]->send("\r\n\r\n"));
    auto r = held[0]->readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(waitFor([&] { return budget.used() <= held_used - (40 << 10); }));
    // The same connection, kept alive, serves a small request again without a charge.
    ASSERT_TRUE(held[0]->send("GET /z HTTP/1.1\r\nHost: t\r\n\r\n"));
    r = held[0]->readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  held.clear();
  refused.clear();
  EXPECT_TRUE(waitFor([&] { return budget.used() == 0; }));
  EXPECT_EQ(shed(), 9);
}

// A request line that arrives whole in the head's first read is moved from the read buffer into
// the parser; while the headers after it are incomplete both stay charged, and closing gives
// everything back.
TEST(HttpServerMemoryTest, ParsedRequestLineOfAnIncompleteHeadStaysCharged) {
  MemoryBudget budget(1 << 20);
  HttpServerOptions o;
  o.memory_budget = &budget;
  o.metrics = nullptr;
  auto srv = startServer(o);
  {
    Conn c(srv->port());
    const std::string line = "GET /" + std::string(400, 'p') + " HTTP/1.1\r\n";  // 416 bytes
    ASSERT_TRUE(c.send(line + "Host: t\r\nX-Pad: " + std::string(60 << 10, 'a')));
    // The buffer grew to 64 KiB for the headers; the parser holds the line besides.
    const size_t want = (64 << 10) + line.size() - 4096;
    EXPECT_TRUE(waitFor([&] { return budget.used() >= want; })) << budget.used();
    EXPECT_LE(budget.used(), want + 512);
  }
  EXPECT_TRUE(waitFor([&] { return budget.used() == 0; }));
}

TEST(HttpServerDeadlineTest, DribblingBodyClosedByMinimumRate) {
  metrics::Registry reg;
  HttpServerOptions o;
  o.metrics = &reg;
  o.read_timeout = 20s;
  o.idle_timeout = 20s;
  o.min_receive_rate = 1000;
  o.min_rate_grace = 300ms;
  auto srv = startServer(o);
  Conn c(srv->port());
  const auto start = Clock::now();
  ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"));
  // One byte every 50 ms: each read makes progress, far below the minimum rate.
  bool closed = false;
  while (Clock::now() - start < 5s) {
    if (!c.send("x")) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(50ms);
    char b;
    ssize_t n = ::recv(c.fd(), &b, 1, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed);
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_EQ(sample(reg, "telegate_http_server_connections_shed_total", "min_receive_rate"), 1);
}

TEST(HttpServerDeadlineTest, WholeRequestDeadlineCountsTheHeader) {
  metrics::Registry reg;
  HttpServerOptions o;
  o.metrics = &reg;
  o.read_timeout = 600ms;
  o.header_timeout = 10s;
  o.min_receive_rate = 0;
  auto srv = startServer(o);
  Conn c(srv->port());
  const auto start = Clock::now();
  // The header takes 400 ms, then the body keeps making progress: the request is closed 600 ms
  // after it started, not 600 ms after its header.
  ASSERT_TRUE(c.send("POST / HTTP/1.1\r\n"));
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(c.send("Host: t\r\n"));
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(c.send("Content-Length: 1000\r\n\r\n"));
  while (Clock::now() - start < 3s && c.send("y")) std::this_thread::sleep_for(20ms);
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 550ms);
  EXPECT_LT(elapsed, 950ms);
  EXPECT_EQ(sample(reg, "telegate_http_server_connections_shed_total", "request_timeout"), 1);
}

// A connection inside a request: header accepted, body not complete.
void startRequest(Conn& c) {
  ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab"));
}

// A keep-alive connection that completed a request.
void completeRequest(Conn& c) {
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
}

TEST(HttpServerSheddingTest, UnauthenticatedFirstThenIdleOldestFirstNeverInRequest) {
  metrics::Registry reg;
  HttpServerOptions o;
  o.metrics = &reg;
  o.max_connections = 4;
  o.max_connections_per_client = 0;
  auto srv = startServer(o);
  const uint16_t port = srv->port();
  Conn unauth_old(port);
  ASSERT_TRUE(unauth_old.send("GET / HTTP/1.1\r\n"));
  std::this_thread::sleep_for(20ms);
  Conn unauth_new(port);
  ASSERT_TRUE(unauth_new.send("GET / HTTP/1.1\r\n"));
  Conn idle(port);
  completeRequest(idle);
  Conn active(port);
  startRequest(active);
  ASSERT_TRUE(waitFor([&] { return srv->openConnections() == 4; }));

  // Table full: the oldest unauthenticated connection goes first, then the next one.
  Conn n1(port);
  EXPECT_TRUE(unauth_old.waitClosed());
  std::this_thread::sleep_for(20ms);
  Conn n2(port);  // sheds unauth_new (n1 is newer)
  EXPECT_TRUE(unauth_new.waitClosed());
  completeRequest(n1);
  completeRequest(n2);
  // No unauthenticated connection left: the connection idle the longest goes.
  Conn n3(port);
  EXPECT_TRUE(idle.waitClosed());
  startRequest(n3);
  completeRequest(n1);  // n1 is idle again, but newer than n2's idle
  Conn n4(port);
  EXPECT_TRUE(n2.waitClosed());
  // The connection inside a request was never shed and completes.
  ASSERT_TRUE(active.send("cd"));
  auto r = active.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(sample(reg, "telegate_http_server_connections_shed_total", "\"unauthenticated\""), 2);
  EXPECT_EQ(sample(reg, "telegate_http_server_connections_shed_total", "\"idle\""), 2);
}

TEST(HttpServerSheddingTest, FullTableOfRequestsRefusesNewConnections) {
  metrics::Registry reg;
  HttpServerOptions o;
  o.metrics = &reg;
  o.max_connections = 2;
  auto srv = startServer(o);
  Conn a(srv->port()), b(srv->port());
  startRequest(a);
  startRequest(b);
  ASSERT_TRUE(waitFor([&] { return srv->openConnections() == 2; }));
  std::this_thread::sleep_for(50ms);
  Conn c(srv->port());
  EXPECT_TRUE(c.waitClosed());
  EXPECT_EQ(sample(reg, "telegate_http_server_connections_shed_total", "connection_limit"), 1);
  ASSERT_TRUE(a.send("cd"));
  EXPECT_TRUE(a.readResponse());
}

TEST(HttpServerSheddingTest, PerSourceLimit) {
  metrics::Registry reg;
  HttpServerOptions o;
  o.metrics = &reg;
  o.max_connections = 100;
  o.max_connections_per_client = 2;
  auto srv = startServer(o);
  const uint16_t port = srv->port();
  Conn slow(port, "127.0.0.2");
  ASSERT_TRUE(slow.send("GET / HTTP/1.1\r\n"));
  Conn busy(port, "127.0.0.2");
  startRequest(busy);
  ASSERT_TRUE(waitFor([&] { return srv->openConnections() == 2; }));
  // A third connection from the same source sheds that source's unauthenticated one.
  Conn third(port, "127.0.0.2");
  EXPECT_TRUE(slow.waitClosed());
  startRequest(third);
  std::this_thread::sleep_for(50ms);
  // Both of its connections are inside requests: the source gets no more.
  Conn fourth(port, "127.0.0.2");
  EXPECT_TRUE(fourth.waitClosed());
  // Other sources are not affected.
  Conn other(port, "127.0.0.3");
  completeRequest(other);
  Conn local(port);
  completeRequest(local);
  EXPECT_EQ(sample(reg, "telegate_http_server_connections_shed_total", "per_client_limit"), 2);
  ASSERT_TRUE(busy.send("cd"));
  EXPECT_TRUE(busy.readResponse());
}

// Out of file descriptors, accept() fails; the server sheds an unauthenticated connection to free
// one and keeps admitting clients. Runs the server in a child process whose descriptor limit is
// just above what it needs, so the flood cannot also starve the test's own client sockets.
TEST(HttpServerSheddingTest, OutOfDescriptorsShedsInsteadOfStalling) {
  int ports[2];
  ASSERT_EQ(::pipe(ports), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ports[0]);
    HttpServerOptions o;
    o.metrics = nullptr;
    HttpServer srv(o, echoHandler);
    if (!srv.start().ok()) ::_exit(2);
    // Descriptors are numbered lowest-free first: fill the holes, then allow six more.
    int top = 0;
    for (int fd = 0; fd < 4096; ++fd) {
      if (::fcntl(fd, F_GETFD) != -1) top = fd + 1;
    }
    for (int fd = 0; fd < top; ++fd) {
      if (::fcntl(fd, F_GETFD) == -1) ::open("/dev/null", O_RDONLY);
    }
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = static_cast<rlim_t>(top + 6);
    ::setrlimit(RLIMIT_NOFILE, &rl);
    const uint16_t port = srv.port();
    if (::write(ports[1], &port, sizeof(port)) != sizeof(port)) ::_exit(3);
    for (;;) ::pause();
  }
  ::close(ports[1]);
  struct Reaper {  // the child goes whatever the outcome
    pid_t pid;
    ~Reaper() {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  } reaper{child};
  uint16_t port = 0;
  ASSERT_EQ(::read(ports[0], &port, sizeof(port)), static_cast<ssize_t>(sizeof(port)));
  ::close(ports[0]);
  {
    std::vector<std::unique_ptr<Conn>> flood;
    for (int i = 0; i < 20; ++i) {
      flood.push_back(std::make_unique<Conn>(port));
      flood.back()->send("GET / HTTP/1.1\r\n");  // never finished
    }
    std::this_thread::sleep_for(200ms);
    const auto start = Clock::now();
    Conn good(port);
    ASSERT_TRUE(good.send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = good.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_LT(Clock::now() - start, 3s);
  }
}

TEST(HttpServerStopTest, StopClosesRequestsBeingReadAtOnce) {
  HttpServerOptions o;
  o.header_timeout = 30s;
  o.read_timeout = 30s;
  auto srv = startServer(o);
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < 20; ++i) {
    conns.push_back(std::make_unique<Conn>(srv->port()));
    ASSERT_TRUE(conns.back()->send(i % 2 ? "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n"
                                         : "POST / HTTP/1.1\r\nHost: t\r\n"));
  }
  ASSERT_TRUE(waitFor([&] { return srv->openConnections() == 20; }));
  const auto start = Clock::now();
  srv->stop();
  EXPECT_LT(Clock::now() - start, 1s);
  for (auto& c : conns) EXPECT_TRUE(c->waitClosed());
}

}  // namespace
}  // namespace telegate::net
