// Test-only: a loopback HTTPS/1.1 server on OpenSSL that requires and verifies a client
// certificate, for the client TLS tests (net::HttpClient, the Kubernetes client).
//
// Every request is answered 200 with the verified client certificate's CN as the body; the
// connection is kept alive. handshakes() lists, per completed handshake, the client CN, the SNI
// the client sent and whether the session was resumed; hosts() lists the Host header of every
// request. Options: the serving certificate and key, the CA client certificates must chain to
// (empty: no client certificate asked), and the highest TLS version served. SIGPIPE is ignored
// by the process from the first server on, as in telegate. One thread accepts,
// one thread per connection (tests open a handful); the destructor closes everything and joins.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace telegate::net::testing {

class TlsTestServer {
 public:
  struct Options {
    std::string cert_file, key_file;
    std::string client_ca_file;  // "" = no client certificate requested
    int max_version = 0;         // e.g. TLS1_2_VERSION; 0 = OpenSSL's highest
    int min_version = 0;         // below TLS1_2_VERSION also lowers the security level to 0
  };
  struct Handshake {
    std::string client_cn;  // "" without a verified client certificate
    std::string sni;
    bool resumed = false;
  };

  explicit TlsTestServer(const Options& o) {
    signal(SIGPIPE, SIG_IGN);  // as telegate's main does: a peer that hung up is an error, not a
                               // signal (OpenSSL writes with write(2))
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx_, o.cert_file.c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, o.key_file.c_str(), SSL_FILETYPE_PEM);
    if (o.max_version != 0) SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    if (o.min_version != 0) {
      SSL_CTX_set_min_proto_version(ctx_, o.min_version);
      if (o.min_version < TLS1_2_VERSION) SSL_CTX_set_security_level(ctx_, 0);
    }
    if (!o.client_ca_file.empty()) {
      SSL_CTX_load_verify_locations(ctx_, o.client_ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      static const unsigned char kSid[] = "telegate-test";
      SSL_CTX_set_session_id_context(ctx_, kSid, sizeof(kSid) - 1);
    }
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 16);
    accept_thread_ = std::thread([this] { acceptLoop(); });
  }

  ~TlsTestServer() {
    stop_ = true;
    accept_thread_.join();
    close(fd_);
    {
      std::lock_guard<std::mutex> l(mu_);
      for (int c : conns_) shutdown(c, SHUT_RDWR);
    }
    for (auto& t : conn_threads_) t.join();
    SSL_CTX_free(ctx_);
  }

  int port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Handshake> handshakes() const {
    std::lock_guard<std::mutex> l(mu_);
    return handshakes_;
  }
  std::vector<std::string> hosts() const {
    std::lock_guard<std::mutex> l(mu_);
    return hosts_;
  }

 private:
  void acceptLoop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::lock_guard<std::mutex> l(mu_);
      conns_.push_back(c);
      conn_threads_.emplace_back([this, c] { serve(c); });
    }
  }

  void serve(int c) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      Handshake h;
      h.resumed = SSL_session_reused(ssl) == 1;
      if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) h.sni = sni;
      X509* peer = SSL_get0_peer_certificate(ssl);
      if (peer != nullptr && SSL_get_verify_result(ssl) == X509_V_OK) {
        char cn[256] = {0};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
        h.client_cn = cn;
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        handshakes_.push_back(h);
      }
      requests(ssl, h.client_cn);
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(c);
  }

  void requests(SSL* ssl, const std::string& cn) {
    std::string buf;
    char chunk[4096];
    while (true) {
      size_t end = buf.find("\r\n\r\n");
      while (end == std::string::npos) {
        int n = SSL_read(ssl, chunk, sizeof(chunk));
        if (n <= 0) return;
        buf.append(chunk, static_cast<size_t>(n));
        end = buf.find("\r\n\r\n");
      }
      std::string head = buf.substr(0, end);
      size_t body_len = 0;
      std::string host;
      size_t pos = 0;
      while ((pos = head.find("\r\n", pos)) != std::string::npos) {
        pos += 2;
        size_t eol = head.find("\r\n", pos);
        std::string line =
            head.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
        std::string lower = line;
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (lower.rfind("content-length:", 0) == 0)
          body_len = std::strtoul(line.c_str() + 15, 0, 10);
        if (lower.rfind("host:", 0) == 0) host = line.substr(line.find_first_not_of(' ', 5));
      }
      while (buf.size() < end + 4 + body_len) {
        int n = SSL_read(ssl, chunk, sizeof(chunk));
        if (n <= 0) return;
        buf.append(chunk, static_cast<size_t>(n));
      }
      buf.erase(0, end + 4 + body_len);
      {
        std::lock_guard<std::mutex> l(mu_);
        hosts_.push_back(host);
      }
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                         std::to_string(cn.size()) + "\r\n\r\n" + cn;
      if (SSL_write(ssl, resp.data(), static_cast<int>(resp.size())) <= 0) return;
    }
  }

  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> conn_threads_;
  std::vector<Handshake> handshakes_;
  std::vector<std::string> hosts_;
};

// A second client certificate signed by `ca` (CN=<cn>), made with the openssl command line in
// `dir`; returns {cert, key} paths.
inline std::pair<std::string, std::string> makeClientCert(const std::string& dir,
                                                          const std::string& ca,
                                                          const std::string& ca_key,
                                                          const std::string& cn) {
  const std::string base = dir + "/" + cn;
  const std::string cmd =
      "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout '" + base +
      ".key' -out '" + base + ".csr' -subj '/CN=" + cn + "' >/dev/null 2>&1 && " +
      "openssl x509 -req -in '" + base + ".csr' -CA '" + ca + "' -CAkey '" + ca_key +
      "' -set_serial " + std::to_string(1000 + cn.size()) + " -days 30 -out '" + base +
      ".crt' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return {"", ""};
  return {base + ".crt", base + ".key"};
}

}  // namespace telegate::net::testing
