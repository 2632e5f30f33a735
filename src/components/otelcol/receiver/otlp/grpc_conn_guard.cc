#include "src/components/otelcol/receiver/otlp/grpc_conn_guard.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace telegate::otelcol::receiver_otlp {

bool ConnGuard::onAbuse(std::string_view peer, Clock::time_point now) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = buckets_.try_emplace(std::string(peer), Bucket{opts_.burst, now});
    Bucket& b = it->second;
    if (!inserted) {
      double elapsed = std::chrono::duration<double>(now - b.last).count();
      if (elapsed > 0) b.tokens = std::min(opts_.burst, b.tokens + elapsed * opts_.per_second);
      b.last = std::max(b.last, now);
    }
    if (inserted && buckets_.size() > opts_.max_entries) pruneLocked(now);
    if (b.closed) return false;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return false;
    }
    if (opts_.local_port == 0) return false;
    b.closed = true;
    // The bucket is marked before the socket is searched for, so one connection is closed once.
  }
  if (!shutdownPeerSocket(peer, opts_.local_port)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  ++closed_;
  return true;
}

uint64_t ConnGuard::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

size_t ConnGuard::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

void ConnGuard::pruneLocked(Clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (now - it->second.last > opts_.idle_expiry) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  // Still too many (a flood of distinct peers within idle_expiry): forget the oldest half's worth
  // by dropping arbitrary entries; a forgotten peer merely starts again with a full bucket.
  while (buckets_.size() > 2 * opts_.max_entries) buckets_.erase(buckets_.begin());
}

bool parsePeer(std::string_view peer, std::string* host, int* port) {
  std::string_view rest;
  if (peer.substr(0, 5) == "ipv4:") {
    rest = peer.substr(5);
  } else if (peer.substr(0, 5) == "ipv6:") {
    rest = peer.substr(5);
  } else {
    return false;
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= rest.size()) return false;
  std::string_view h = rest.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  // gRPC percent-encodes IPv6 zone separators ("%25"); zones never occur on loopback or in
  // addresses a client connects from over a routed network, so they are not matched.
  std::string p(rest.substr(colon + 1));
  char* end = nullptr;
  long v = std::strtol(p.c_str(), &end, 10);
  if (end == p.c_str() || *end != '\0' || v <= 0 || v > 65535) return false;
  *host = std::string(h);
  *port = static_cast<int>(v);
  return true;
}

namespace {

// host (without brackets) and port of a socket address; IPv4-mapped IPv6 as IPv4.
bool formatAddr(const sockaddr_storage& ss, std::string* host, int* port) {
  char buf[INET6_ADDRSTRLEN];
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    if (inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf)) == nullptr) return false;
    *port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      if (inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof(buf)) == nullptr) return false;
    } else if (inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf)) == nullptr) {
      return false;
    }
    *port = ntohs(a->sin6_port);
  } else {
    return false;
  }
  *host = buf;
  return true;
}

}  // namespace

bool shutdownPeerSocket(std::string_view peer, int local_port) {
  std::string want_host;
  int want_port = 0;
  if (!parsePeer(peer, &want_host, &want_port)) return false;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return false;
  int self = dirfd(dir);
  bool done = false;
  while (!done) {
    dirent* e = readdir(dir);
    if (e == nullptr) break;
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == self) continue;
    sockaddr_storage local{}, remote{};
    socklen_t len = sizeof(local);
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
      continue;  // not a socket
    }
    std::string host;
    int port = 0;
    if (!formatAddr(local, &host, &port) || port != local_port) continue;
    len = sizeof(remote);
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&remote), &len) != 0) {
      continue;  // the listening socket, or not connected
    }
    if (!formatAddr(remote, &host, &port) || port != want_port) continue;
    std::string want = want_host;
    // An IPv4-mapped peer may be printed either way.
    if (want.rfind("::ffff:", 0) == 0 && want.find('.') != std::string::npos) want = want.substr(7);
    if (host != want) continue;
    done = ::shutdown(static_cast<int>(fd), SHUT_RDWR) == 0;
  }
  closedir(dir);
  return done;
}

}  // namespace telegate::otelcol::receiver_otlp
