// A TLS client for tests (header-only; link OpenSSL::SSL): one request over a fresh connection
// to 127.0.0.1, with the details a test wants to check about the handshake.
//
// Contract: tlsExchange() connects to 127.0.0.1:port, verifies the server as "localhost" against
// the PEM CA `roots` (SNI localhost), presents `client` when given, offers `alpn` when not empty,
// sends `request` and reads until the server closes (5 s socket timeouts). Exchange::handshake
// is whether SSL_connect succeeded; with TLS 1.3 a client certificate is judged by the server
// after that, so a refused client shows as an empty `response`. Never throws; failures show as
// empty fields.
// Threading: no shared state.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test/fakes/test_certs.h"

namespace telegate::testing {

inline X509* parseCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return x;
}

struct Exchange {
  bool handshake = false;   // SSL_connect succeeded (TLS 1.3: before the server saw our cert)
  std::string response;     // what the server answered ("" when it closed or alerted)
  std::string alpn;         // the protocol the server selected
  std::string server_cert;  // PEM of the certificate the server presented
};

// One request over a fresh TLS connection to 127.0.0.1:port, verifying "localhost" against
// `roots`, presenting `client` when given.
inline Exchange tlsExchange(uint16_t port, const std::string& roots, const TestKeyPair* client,
                            const std::string& request, std::vector<std::string> alpn = {}) {
  Exchange out;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  X509* root = parseCert(roots);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), root);
  X509_free(root);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (client != nullptr) {
    X509* c = parseCert(client->cert_pem);
    BIO* kb = BIO_new_mem_buf(client->key_pem.data(), static_cast<int>(client->key_pem.size()));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(ctx, c);
    SSL_CTX_use_PrivateKey(ctx, k);
    X509_free(c);
    EVP_PKEY_free(k);
    BIO_free(kb);
  }
  if (!alpn.empty()) {
    std::string wire;
    for (const auto& p : alpn) wire += static_cast<char>(p.size()) + p;
    SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  SSL* ssl = SSL_new(ctx);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    out.handshake = SSL_connect(ssl) == 1;
  }
  if (out.handshake) {
    const unsigned char* sel = nullptr;
    unsigned sel_len = 0;
    SSL_get0_alpn_selected(ssl, &sel, &sel_len);
    out.alpn.assign(reinterpret_cast<const char*>(sel), sel_len);
    if (X509* peer = SSL_get1_peer_certificate(ssl)) {
      BIO* b = BIO_new(BIO_s_mem());
      PEM_write_bio_X509(b, peer);
      char* data = nullptr;
      long n = BIO_get_mem_data(b, &data);
      out.server_cert.assign(data, static_cast<size_t>(n));
      BIO_free(b);
      X509_free(peer);
    }
    if (SSL_write(ssl, request.data(), static_cast<int>(request.size())) > 0) {
      char buf[4096];
      int n;
      while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) out.response.append(buf, n);
    }
  }
  ERR_clear_error();
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(ctx);
  return out;
}

}  // namespace telegate::testing
