// Connection-rate load generator for bench/tls_bench.py: opens one connection after the other to
// 127.0.0.1:PORT for SECONDS, sends one HTTP/1.1 request on each (`Connection: close`), reads the
// answer by its Content-Length and closes. Modes:
//   plain    TCP only (the baseline cost of a connection and a request);
//   full     TLS, a full handshake every time (no session offered);
//   resumed  TLS, offering the session of the previous connection (TLS 1.3 tickets or TLS 1.2
//            session IDs/tickets, whatever the server issued).
// The answer is read by its length, never to EOF, so a session stays resumable whether or not the
// server sends close_notify. Prints one JSON line: {"connections":N,"resumed":R,"errors":E}.
//
// Usage: telegate_tls_handshake_client PORT CA_FILE SECONDS plain|full|resumed
// Single-threaded; loopback only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kRequest =
    "GET /-/none HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

int connectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads one HTTP response (head + Content-Length body) through `read`; false on error or EOF
// before its end.
template <class Read>
bool readResponse(Read read) {
  std::string got;
  char buf[4096];
  size_t head_end = std::string::npos;
  size_t need = 0;
  while (true) {
    if (head_end == std::string::npos) {
      head_end = got.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        head_end += 4;
        std::string lower(got.substr(0, head_end));
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t cl = lower.find("\r\ncontent-length:");
        need = cl == std::string::npos ? 0 : std::strtoul(lower.c_str() + cl + 17, nullptr, 10);
      }
    }
    if (head_end != std::string::npos && got.size() >= head_end + need) return true;
    int n = read(buf, sizeof(buf));
    if (n <= 0) return false;
    got.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s PORT CA_FILE SECONDS plain|full|resumed\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string ca = argv[2];
  const double seconds = std::atof(argv[3]);
  const std::string mode = argv[4];
  if (mode != "plain" && mode != "full" && mode != "resumed") {
    std::fprintf(stderr, "mode must be plain, full or resumed\n");
    return 2;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
    std::fprintf(stderr, "cannot load %s\n", ca.c_str());
    return 1;
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
  SSL_SESSION* session = nullptr;
  long connections = 0, resumed = 0, errors = 0;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = connectLoopback(port);
    if (fd < 0) {
      ++errors;
      continue;
    }
    bool ok = false;
    if (mode == "plain") {
      ok = write(fd, kRequest.data(), kRequest.size()) == static_cast<ssize_t>(kRequest.size()) &&
           readResponse([fd](char* b, int n) { return static_cast<int>(read(fd, b, n)); });
    } else {
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      SSL_set1_host(ssl, "127.0.0.1");
      if (mode == "resumed" && session != nullptr) SSL_set_session(ssl, session);
      if (SSL_connect(ssl) == 1 &&
          SSL_write(ssl, kRequest.data(), static_cast<int>(kRequest.size())) ==
              static_cast<int>(kRequest.size()) &&
          readResponse([ssl](char* b, int n) { return SSL_read(ssl, b, n); })) {
        ok = true;
        if (SSL_session_reused(ssl)) ++resumed;
        if (mode == "resumed") {
          // The newest session (a TLS 1.3 ticket arrives with the answer).
          SSL_SESSION* s = SSL_get1_session(ssl);
          if (s != nullptr && SSL_SESSION_is_resumable(s)) {
            if (session != nullptr) SSL_SESSION_free(session);
            session = s;
          } else if (s != nullptr) {
            SSL_SESSION_free(s);
          }
        }
        SSL_shutdown(ssl);
      }
      SSL_free(ssl);
      ERR_clear_error();
    }
    close(fd);
    if (ok) {
      ++connections;
    } else {
      ++errors;
    }
  }
  if (session != nullptr) SSL_SESSION_free(session);
  SSL_CTX_free(ctx);
  std::printf(
      "{\"connections\": %ld, \"resumed\": %.4f, \"errors\": %ld}\n", connections,
      connections > 0 ? static_cast<double>(resumed) / static_cast<double>(connections) : 0.0,
      errors);
  return 0;
}
