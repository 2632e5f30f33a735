// Test support: a loopback HTTP/1.1 server scripted by a handler (one connection at a time).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace telegate::k8s::k8stest {

// A loopback HTTP/1.1 server: `respond` gets the request head and returns the raw bytes to send;
// with hang=true the connection is then kept open until the server is destroyed.
class TinyServer {
 public:
  using Handler = std::function<std::string(const std::string& head, bool* hang)>;
  explicit TinyServer(Handler h) : handler_(std::move(h)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] { loop(); });
  }
  ~TinyServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    std::lock_guard<std::mutex> l(mu_);
    for (int c : hung_) close(c);
  }
  int port() const { return port_; }
  std::vector<std::string> heads() {
    std::lock_guard<std::mutex> l(mu_);
    return heads_;
  }

 private:
  void loop() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      bool hang = false;
      std::string out = handler_(head, &hang);
      {
        std::lock_guard<std::mutex> l(mu_);
        heads_.push_back(head);
      }
      (void)!write(c, out.data(), out.size());
      if (hang) {
        std::lock_guard<std::mutex> l(mu_);
        hung_.push_back(c);
      } else {
        close(c);
      }
    }
  }
  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> heads_;
  std::vector<int> hung_;
};

inline std::string reply(int code, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(code) +
         " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace telegate::k8s::k8stest
