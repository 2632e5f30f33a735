// Per-connection abuse budget of the OTLP/gRPC server: closes an HTTP/2 connection that keeps
// opening streams the server cannot use (the HTTP/2 "rapid reset" pattern, CVE-2023-44487).
//
// Why: gRPC 1.51 (Debian 12) has no rapid-reset mitigation. Every stream a client opens becomes a
// server call that waits in gRPC's unbounded pending-call queue until the application takes it,
// even when the client reset the stream right away, and the application has no API to close a
// connection. A client that opens and resets streams faster than the server takes calls grows
// that queue (about 12 KB per stream) without bound and delays every other client's calls.
//
// Contract:
//  * onAbuse(peer, now) records one abusive stream event for the connection named by `peer`
//    (grpc::ServerContext::peer(), e.g. "ipv4:127.0.0.1:40312"). Abusive events are streams that
//    ended before sending their request message (reset, cancelled, or refused by gRPC for size or
//    encoding), that failed authentication, or that named an unknown method; a well-behaved
//    client produces almost none of them. Each connection has a token bucket of `burst` events
//    refilled at `per_second`; the event that finds it empty closes the connection: the socket of
//    this process whose local port is `local_port` and whose peer address is `peer` is shut down
//    in both directions (shutdown(2)), so gRPC sees the connection end as if the client had gone,
//    fails its calls and frees it. Returns true for the event that closed the connection; later
//    events for the same peer do nothing until the entry expires.
//  * The caller must hold a call of that connection while calling onAbuse(): a live call keeps
//    gRPC's transport, and so the socket, open, which makes the peer address identify exactly one
//    socket. Finding it reads /proc/self/fd (only when a connection is closed, never per call).
//    Without /proc, or when no socket matches, nothing is closed and onAbuse() returns false.
//  * Entries of peers without events for `idle_expiry` are dropped when the table grows past
//    `max_entries`; the table never holds more than 2 * max_entries entries.
//  * Calls of a connection the guard closed still reach the server from gRPC's queue of calls
//    not yet taken by the application; closedRecently() + isClosed() let the server drop them
//    without further work.
//  * `now` is injected (steady clock); the guard never sleeps.
// Threading: all methods may be called concurrently; one mutex guards the table. Only abusive
// events take it: accepted calls never touch the guard.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace telegate::otelcol::receiver_otlp {

struct ConnGuardOptions {
  double burst = 1000;      // abusive events a connection may produce at once
  double per_second = 100;  // sustained abusive events per second per connection
  int local_port = 0;       // the server's listening port (0: the guard never closes anything)
  size_t max_entries = 4096;
  std::chrono::seconds idle_expiry{60};
};

class ConnGuard {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ConnGuard(ConnGuardOptions opts) : opts_(opts) {}

  bool onAbuse(std::string_view peer, Clock::time_point now);
  // True when the guard closed a connection during the last `window` before `now`: lock-free,
  // cheap enough for every call; callers then ask isClosed() for the call's connection.
  bool closedRecently(Clock::time_point now, Clock::duration window) const;
  // True when the connection of `peer` was closed by the guard and its socket is still open in
  // this process (then no other connection can have the same peer address, so the caller's call
  // belongs to the closed connection). Once gRPC has closed that socket, a new connection from
  // the same address and port starts with a fresh budget.
  bool isClosed(std::string_view peer);
  // Connections closed so far.
  uint64_t closed() const;
  // Peers currently tracked.
  size_t entries() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
    bool closed = false;
    int fd = -1;         // the closed connection's socket ...
    uint64_t inode = 0;  // ... and its inode, to tell it from a later socket with that fd
  };
  void pruneLocked(Clock::time_point now);

  ConnGuardOptions opts_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;       // guarded by mu_
  uint64_t closed_ = 0;                                   // guarded by mu_
  std::atomic<int64_t> last_close_ticks_{INT64_MIN / 2};  // Clock ticks since its epoch
};

// Parses a gRPC peer string ("ipv4:1.2.3.4:5", "ipv6:[::1]:5"); false when it is neither.
bool parsePeer(std::string_view peer, std::string* host, int* port);

// Shuts down (both directions) the TCP socket of this process with local port `local_port` and
// the peer `peer` (a gRPC peer string). Returns false when no such socket is open; otherwise
// stores its descriptor and inode in *fd / *inode when given.
bool shutdownPeerSocket(std::string_view peer, int local_port, int* fd = nullptr,
                        uint64_t* inode = nullptr);

// True when descriptor `fd` is open and is the socket with inode `inode`.
bool socketStillOpen(int fd, uint64_t inode);

}  // namespace telegate::otelcol::receiver_otlp
