// Test helpers for net::HttpServer tests: a blocking raw-socket client (optionally bound to a
// given loopback source address), an echo handler and small waiting helpers.
// Threading: a Conn is used by one thread at a time.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "gtest/gtest.h"
#include "src/net/http_server.h"
#include "test/fakes/wait.h"

namespace telegate::net {
namespace {

using ::telegate::testing::waitFor;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- raw socket client helpers (blocking, with 5 s socket timeouts) ----

class Conn {
 public:
  // `source`: the local IPv4 loopback address to connect from (e.g. "127.0.0.2"); "" = any.
  explicit Conn(uint16_t port, const char* source = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (source[0] != '\0') {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &local.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local));
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads more bytes into buf_. Returns false on EOF, error or timeout.
  bool fill() {
    char tmp[8192];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      eof_ = (n == 0);
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string raw_head;
  };

  // Reads one response (Content-Length framed; without one, the body is read to EOF).
  std::optional<Response> readResponse(bool head_request = false) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    Response r;
    r.raw_head = buf_.substr(0, end + 4);
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(tolower(c));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value[0] == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = e + 2;
    }
    if (r.status / 100 == 1 || r.status == 204 || r.status == 304 || head_request) return r;
    if (r.headers.count("content-length")) {
      size_t len = std::stoul(r.headers["content-length"]);
      while (buf_.size() < len) {
        if (!fill()) return std::nullopt;
      }
      r.body = buf_.substr(0, len);
      buf_.erase(0, len);
    } else {
      while (fill()) {
      }
      r.body = std::move(buf_);
      buf_.clear();
    }
    return r;
  }

  // True if the peer closes the connection (EOF or reset) within the socket timeout.
  bool waitClosed() {
    for (;;) {
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buf_;
};

[[maybe_unused]] HttpResponse echoHandler(const HttpRequest& req) {
  if (req.path == "/throw") throw std::runtime_error("boom");
  if (req.path == "/sleep") std::this_thread::sleep_for(50ms);
  HttpResponse r;
  r.headers.emplace_back("X-Echo-Method", req.method);
  r.body = req.method + " " + req.path + " " + req.query + " [" +
           std::string(req.header("x-test")) + "] " + req.body;
  return r;
}

[[maybe_unused]] std::unique_ptr<HttpServer> startServer(HttpServerOptions opts = {},
                                                         HttpHandler handler = echoHandler) {
  auto srv = std::make_unique<HttpServer>(std::move(opts), std::move(handler));
  auto st = srv->start();
  EXPECT_TRUE(st.ok()) << st;
  return srv;
}

}  // namespace
}  // namespace telegate::net
