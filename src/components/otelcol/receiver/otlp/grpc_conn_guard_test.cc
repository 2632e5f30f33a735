#include "src/components/otelcol/receiver/otlp/grpc_conn_guard.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace telegate::otelcol::receiver_otlp {
namespace {

using namespace std::chrono_literals;
using Clock = ConnGuard::Clock;

// A listening loopback socket, one accepted connection and its client side.
struct LoopbackPair {
  int listener = -1, server = -1, client = -1;
  int listen_port = 0, client_port = 0;
  LoopbackPair() {
    listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(listener, 4), 0);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    listen_port = ntohs(a.sin_port);
    client = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&a), len), 0);
    server = ::accept(listener, nullptr, nullptr);
    sockaddr_in c{};
    len = sizeof(c);
    ::getsockname(client, reinterpret_cast<sockaddr*>(&c), &len);
    client_port = ntohs(c.sin_port);
  }
  ~LoopbackPair() {
    for (int fd : {listener, server, client}) {
      if (fd >= 0) ::close(fd);
    }
  }
  std::string peer() const { return "ipv4:127.0.0.1:" + std::to_string(client_port); }
  // True when the client sees the connection closed by the server side.
  bool clientSeesEof() const {
    char c;
    ssize_t n = ::recv(client, &c, 1, MSG_DONTWAIT);
    return n == 0;
  }
};

TEST(ConnGuard, ParsePeer) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(parsePeer("ipv4:127.0.0.1:40312", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 40312);
  ASSERT_TRUE(parsePeer("ipv6:[::1]:5", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 5);
  EXPECT_FALSE(parsePeer("unix:/tmp/sock", &host, &port));
  EXPECT_FALSE(parsePeer("ipv4:127.0.0.1", &host, &port));
  EXPECT_FALSE(parsePeer("ipv4:127.0.0.1:99999", &host, &port));
  EXPECT_FALSE(parsePeer("ipv4:127.0.0.1:x", &host, &port));
}

TEST(ConnGuard, ShutsDownOnlyTheMatchingSocket) {
  LoopbackPair victim, bystander;
  // Wrong local port: nothing happens.
  EXPECT_FALSE(shutdownPeerSocket(victim.peer(), bystander.listen_port));
  EXPECT_FALSE(victim.clientSeesEof());
  ASSERT_TRUE(shutdownPeerSocket(victim.peer(), victim.listen_port));
  EXPECT_TRUE(victim.clientSeesEof());
  EXPECT_FALSE(bystander.clientSeesEof());
  // No such peer.
  EXPECT_FALSE(shutdownPeerSocket("ipv4:127.0.0.1:1", victim.listen_port));
}

// An IPv6 listener (as for endpoint "[::]:4317") sees IPv4 clients as IPv4-mapped IPv6
// addresses; either spelling of the peer finds the socket.
TEST(ConnGuard, FindsIpv4MappedPeersOnDualStackListener) {
  int listener = ::socket(AF_INET6, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  int off = 0;
  ::setsockopt(listener, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  // The IPv4-mapped loopback address: a dual-stack socket that only listens on 127.0.0.1.
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:127.0.0.1", &a.sin6_addr), 1);
  socklen_t len = sizeof(a);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin6_port);
  for (const char* form : {"ipv4:127.0.0.1:", "ipv6:[::ffff:127.0.0.1]:"}) {
    int client = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(static_cast<uint16_t>(port));
    ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
    int server = ::accept(listener, nullptr, nullptr);
    sockaddr_in c{};
    socklen_t clen = sizeof(c);
    ::getsockname(client, reinterpret_cast<sockaddr*>(&c), &clen);
    std::string peer = form + std::to_string(ntohs(c.sin_port));
    EXPECT_TRUE(shutdownPeerSocket(peer, port)) << peer;
    char ch;
    EXPECT_EQ(::recv(client, &ch, 1, MSG_DONTWAIT), 0) << peer;
    ::close(server);
    ::close(client);
  }
  ::close(listener);
}

TEST(ConnGuard, ClosesAfterBurstThenRefillsPerSecond) {
  LoopbackPair conn;
  ConnGuardOptions o;
  o.burst = 5;
  o.per_second = 2;
  o.local_port = conn.listen_port;
  ConnGuard g(o);
  Clock::time_point t0{};
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(g.onAbuse(conn.peer(), t0));
  // One second later two more tokens: two more events pass, the third closes.
  EXPECT_FALSE(g.onAbuse(conn.peer(), t0 + 1s));
  EXPECT_FALSE(g.onAbuse(conn.peer(), t0 + 1s));
  EXPECT_FALSE(conn.clientSeesEof());
  EXPECT_TRUE(g.onAbuse(conn.peer(), t0 + 1s));
  EXPECT_TRUE(conn.clientSeesEof());
  EXPECT_EQ(g.closed(), 1u);
  // Later events of the same (closed) connection do nothing more.
  EXPECT_FALSE(g.onAbuse(conn.peer(), t0 + 1s));
  EXPECT_EQ(g.closed(), 1u);
}

// Calls of a closed connection are recognised while its socket is open; once the server has
// closed that socket, the same peer address is a new connection with a fresh budget.
TEST(ConnGuard, ClosedUntilTheSocketIsReleased) {
  LoopbackPair conn;
  ConnGuardOptions o;
  o.burst = 1;
  o.per_second = 0;
  o.local_port = conn.listen_port;
  ConnGuard g(o);
  Clock::time_point t0 = Clock::now();
  EXPECT_FALSE(g.closedRecently(t0, 10s));
  EXPECT_FALSE(g.isClosed(conn.peer()));
  EXPECT_FALSE(g.onAbuse(conn.peer(), t0));
  EXPECT_TRUE(g.onAbuse(conn.peer(), t0));
  EXPECT_TRUE(g.closedRecently(t0 + 1s, 10s));
  EXPECT_FALSE(g.closedRecently(t0 + 11s, 10s));
  EXPECT_TRUE(g.isClosed(conn.peer()));
  ::close(conn.server);  // what gRPC does once the connection's last call is gone
  conn.server = -1;
  EXPECT_FALSE(g.isClosed(conn.peer()));
  EXPECT_FALSE(g.onAbuse(conn.peer(), t0 + 1s));  // a fresh budget of one event
}

TEST(ConnGuard, SustainedRateBelowRefillNeverCloses) {
  LoopbackPair conn;
  ConnGuardOptions o;
  o.burst = 3;
  o.per_second = 10;
  o.local_port = conn.listen_port;
  ConnGuard g(o);
  Clock::time_point t{};
  for (int i = 0; i < 1000; ++i) {
    t += 150ms;  // 6.7 events per second
    EXPECT_FALSE(g.onAbuse(conn.peer(), t));
  }
  EXPECT_FALSE(conn.clientSeesEof());
  EXPECT_EQ(g.closed(), 0u);
}

TEST(ConnGuard, ConnectionsHaveSeparateBudgets) {
  LoopbackPair a, b;
  ConnGuardOptions o;
  o.burst = 2;
  o.per_second = 0;
  o.local_port = a.listen_port;
  ConnGuard g(o);
  Clock::time_point t{};
  EXPECT_FALSE(g.onAbuse(a.peer(), t));
  EXPECT_FALSE(g.onAbuse(a.peer(), t));
  EXPECT_FALSE(g.onAbuse(b.peer(), t));  // b's own budget
  EXPECT_TRUE(g.onAbuse(a.peer(), t));
  EXPECT_FALSE(b.clientSeesEof());
}

TEST(ConnGuard, TableStaysBounded) {
  ConnGuardOptions o;
  o.burst = 10;
  o.max_entries = 16;
  o.idle_expiry = 1s;
  ConnGuard g(o);  // local_port 0: never closes anything
  Clock::time_point t{};
  for (int i = 0; i < 10000; ++i) {
    EXPECT_FALSE(g.onAbuse("ipv4:127.0.0.2:" + std::to_string(1 + i % 60000), t));
  }
  // Distinct peers within idle_expiry: the table is trimmed, the guard keeps working.
  EXPECT_LE(g.entries(), 2 * o.max_entries);
  // Entries idle past idle_expiry go first.
  g.onAbuse("ipv4:127.0.0.2:1", t + 5s);
  g.onAbuse("ipv4:127.0.0.2:2", t + 5s);
  EXPECT_LE(g.entries(), 2u);
}

}  // namespace
}  // namespace telegate::otelcol::receiver_otlp
