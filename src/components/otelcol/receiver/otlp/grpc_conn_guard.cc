#include "src/components/otelcol/receiver/otlp/grpc_conn_guard.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

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
  int fd = -1;
  uint64_t inode = 0;
  if (!shutdownPeerSocket(peer, opts_.local_port, &fd, &inode)) return false;
  last_close_ticks_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  ++closed_;
  auto it = buckets_.find(std::string(peer));
  if (it != buckets_.end()) {
    it->second.fd = fd;
    it->second.inode = inode;
  }
  return true;
}

bool ConnGuard::closedRecently(Clock::time_point now, Clock::duration window) const {
  return now.time_since_epoch().count() - last_close_ticks_.load(std::memory_order_relaxed) <=
         window.count();
}

bool ConnGuard::isClosed(std::string_view peer) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(std::string(peer));
  if (it == buckets_.end() || !it->second.closed || it->second.fd < 0) return false;
  if (socketStillOpen(it->second.fd, it->second.inode)) return true;
  // gRPC has let go of the closed connection: this peer is a new connection.
  it->second = Bucket{opts_.burst, it->second.last};
  return false;
}

bool socketStillOpen(int fd, uint64_t inode) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && static_cast<uint64_t>(st.st_ino) == inode;
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

bool shutdownPeerSocket(std::string_view peer, int local_port, int* fd_out, uint64_t* inode_out) {
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
    if (done) {
      struct stat st {};
      if (fd_out != nullptr) *fd_out = static_cast<int>(fd);
      if (inode_out != nullptr && fstat(static_cast<int>(fd), &st) == 0) {
        *inode_out = static_cast<uint64_t>(st.st_ino);
      }
    }
  }
  closedir(dir);
  return done;
}

}  // namespace telegate::otelcol::receiver_otlp
