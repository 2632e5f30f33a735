#include "src/components/otelcol/receiver/otlp/grpc_tls.h"

#include <fcntl.h>
#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "absl/strings/escaping.h"
#include "src/common/strings.h"

namespace telegate::otelcol::receiver_otlp {

namespace {

using net::tls::ClientAuth;

constexpr auto kPublishPoll = std::chrono::milliseconds(200);
constexpr unsigned kProviderRefreshSeconds = 1;
constexpr size_t kIdentityCacheEntries = 256;

std::string bioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// The certificate chain (leaf first) and the private key of `ctx`'s serving certificate, PEM.
absl::StatusOr<std::string> identityPem(SSL_CTX* ctx) {
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  EVP_PKEY* key = SSL_CTX_get0_privatekey(ctx);
  if (leaf == nullptr || key == nullptr) {
    return absl::InternalError("the TLS context has no certificate or key");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  bool ok = PEM_write_bio_X509(bio.get(), leaf) == 1;
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get_extra_chain_certs(ctx, &chain);
  for (int i = 0; ok && chain != nullptr && i < sk_X509_num(chain); ++i) {
    ok = PEM_write_bio_X509(bio.get(), sk_X509_value(chain, i)) == 1;
  }
  ok = ok && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (!ok) return absl::InternalError("cannot encode the serving certificate and key as PEM");
  return bioString(bio.get());
}

absl::StatusOr<std::string> readFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        strCat("failed to load ", what, " ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t countCertificates(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  size_t n = 0;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_free(x);
    ++n;
  }
  ERR_clear_error();
  return n;
}

// The CAs that verify client certificates, PEM: client_ca_file or client_ca_pem, plus the system
// bundle with include_system_ca_certs_pool.
absl::StatusOr<std::string> clientCaPem(const net::tls::TlsServerSettings& s) {
  std::string pem = s.client_ca_pem;
  if (!s.client_ca_file.empty()) {
    auto f = readFile(s.client_ca_file, "client CA");
    if (!f.ok()) return f.status();
    pem = *std::move(f);
  }
  if (countCertificates(pem) == 0) {
    return absl::InvalidArgumentError(
        strCat("failed to load client CA ",
               s.client_ca_file.empty() ? std::string("client_ca_pem") : s.client_ca_file,
               ": no PEM certificate found"));
  }
  if (s.include_system_ca_certs_pool) {
    if (auto sys = readFile(X509_get_default_cert_file(), "system CA bundle"); sys.ok()) {
      pem += "\n" + *sys;
    }
  }
  return pem;
}

// Writes `path` through a temporary file and one rename, mode 0600, with modification time
// `mtime`.
absl::Status writeAtomically(const std::string& path, const std::string& content, time_t mtime) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(strCat("open ", tmp, ": ", std::strerror(errno)));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      return absl::InternalError(strCat("write ", tmp, ": ", std::strerror(e)));
    }
    off += static_cast<size_t>(n);
  }
  timespec times[2] = {{mtime, 0}, {mtime, 0}};
  ::futimens(fd, times);
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(strCat("replace ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> makeStagingDir() {
  std::string base;
  if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0') {
    base = t;
  } else if (::access("/dev/shm", W_OK | X_OK) == 0) {
    base = "/dev/shm";  // memory only: the key never reaches a disk
  } else {
    base = "/tmp";
  }
  std::string tmpl = base + "/telegate-grpc-tls-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {  // mkdtemp creates it with mode 0700
    return absl::InternalError(strCat("mkdtemp ", tmpl, ": ", std::strerror(errno)));
  }
  return std::string(buf.data());
}

grpc_ssl_client_certificate_request_type requestType(ClientAuth a) {
  switch (a) {
    case ClientAuth::kNoClientCert:
      return GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
    case ClientAuth::kRequestClientCert:
      return GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY;
    case ClientAuth::kRequireAnyClientCert:
      return GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY;
    case ClientAuth::kVerifyClientCertIfGiven:
      return GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
    case ClientAuth::kRequireAndVerifyClientCert:
      return GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
}

std::string asn1String(const ASN1_STRING* s) {
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::shared_ptr<const net::tls::PeerIdentity> parseIdentity(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (x == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  auto id = std::make_shared<net::tls::PeerIdentity>();
  id->verified = true;
  X509_NAME* subject = X509_get_subject_name(x);
  BioPtr out(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(out.get(), subject, 0, XN_FLAG_RFC2253);
  id->subject = bioString(out.get());
  int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn >= 0) {
    id->common_name = asn1String(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn)));
  }
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    switch (g->type) {
      case GEN_DNS:
        id->dns_names.push_back(asn1String(g->d.dNSName));
        break;
      case GEN_URI:
        id->uris.push_back(asn1String(g->d.uniformResourceIdentifier));
        break;
      case GEN_EMAIL:
        id->emails.push_back(asn1String(g->d.rfc822Name));
        break;
      default:
        break;
    }
  }
  GENERAL_NAMES_free(names);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(x, EVP_sha256(), md, &len) == 1) {
    id->sha256_fingerprint =
        absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
  }
  X509_free(x);
  return id;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

}  // namespace

absl::Status checkGrpcTlsSettings(const net::tls::TlsServerSettings& s) {
  if (!s.min_version.empty() && s.min_version != "1.2") {
    return absl::InvalidArgumentError(
        strCat("min_version \"", s.min_version,
               "\" is not supported on the gRPC server: gRPC 1.51 always accepts TLS 1.2 and 1.3; "
               "leave min_version unset or set it to \"1.2\""));
  }
  if (!s.max_version.empty() && s.max_version != "1.3") {
    return absl::InvalidArgumentError(
        strCat("max_version \"", s.max_version,
               "\" is not supported on the gRPC server: gRPC 1.51 always offers TLS 1.3; leave "
               "max_version unset or set it to \"1.3\""));
  }
  if (!s.cipher_suites.empty()) {
    return absl::InvalidArgumentError(
        "cipher_suites is not supported on the gRPC server: gRPC 1.51 uses its own cipher "
        "suites; remove it (the HTTP server supports it)");
  }
  if (!s.curve_preferences.empty()) {
    return absl::InvalidArgumentError(
        "curve_preferences is not supported on the gRPC server: gRPC 1.51 uses its own curves; "
        "remove it (the HTTP server supports it)");
  }
  return absl::OkStatus();
}

std::shared_ptr<const net::tls::PeerIdentity> peerIdentity(const grpc::AuthContext& auth) {
  auto type = auth.FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
  // "tls" for TlsServerCredentials, "ssl" for SslServerCredentials.
  if (type.empty() || (type[0] != GRPC_TLS_TRANSPORT_SECURITY_TYPE &&
                       type[0] != GRPC_SSL_TRANSPORT_SECURITY_TYPE)) {
    return nullptr;
  }
  auto pem = auth.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pem.empty() || pem[0].size() == 0) return nullptr;
  std::string_view key(pem[0].data(), pem[0].size());
  thread_local std::unordered_map<std::string, std::shared_ptr<const net::tls::PeerIdentity>,
                                  StringHash, std::equal_to<>>
      cache;
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto id = parseIdentity(key);
  if (id == nullptr) return nullptr;
  if (cache.size() >= kIdentityCacheEntries) cache.clear();
  cache.emplace(std::string(key), id);
  return id;
}

absl::StatusOr<std::unique_ptr<GrpcServerTls>> GrpcServerTls::create(
    net::tls::TlsServerSettings settings, std::string server, log::Logger logger,
    metrics::Registry* metrics) {
  if (absl::Status st = checkGrpcTlsSettings(settings); !st.ok()) return st;
  settings.alpn = {"h2"};
  auto ctx = net::tls::TlsServerContext::create(settings, server, metrics);
  if (!ctx.ok()) return ctx.status();
  std::unique_ptr<GrpcServerTls> t(new GrpcServerTls());
  t->settings_ = std::move(settings);
  t->server_ = std::move(server);
  t->logger_ = std::move(logger);
  t->context_ = *std::move(ctx);
  auto dir = makeStagingDir();
  if (!dir.ok()) return dir.status();
  t->dir_ = *std::move(dir);
  t->identity_path_ = t->dir_ + "/identity.pem";
  const auto& s = t->settings_;
  if (!s.client_ca_file.empty() || !s.client_ca_pem.empty()) {
    t->ca_path_ = t->dir_ + "/client_ca.pem";
  }
  t->verify_clients_ = s.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                       s.client_auth == ClientAuth::kRequireAndVerifyClientCert;
  {
    std::lock_guard<std::mutex> l(t->mu_);
    std::shared_ptr<SSL_CTX> cur = t->context_->current();
    if (absl::Status st = t->publish(cur); !st.ok()) return st;
    t->published_ = std::move(cur);
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      t->identity_path_, t->identity_path_, t->ca_path_, kProviderRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!t->ca_path_.empty()) options.watch_root_certs();
  options.set_cert_request_type(requestType(s.client_auth));
  t->credentials_ = grpc::experimental::TlsServerCredentials(options);
  if (t->credentials_ == nullptr) {
    return absl::InternalError("gRPC refused the TLS server credentials");
  }
  GrpcServerTls* self = t.get();
  t->publisher_ = std::thread([self] { self->run(); });
  return t;
}

GrpcServerTls::~GrpcServerTls() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (publisher_.joinable()) publisher_.join();
  if (context_) context_->stop();
  // gRPC's file watcher goes with the credentials; only then do its files disappear.
  credentials_.reset();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool GrpcServerTls::publishIfChanged() {
  std::lock_guard<std::mutex> l(mu_);
  std::shared_ptr<SSL_CTX> cur = context_->current();
  if (cur == published_) return false;
  if (absl::Status st = publish(cur); !st.ok()) {
    // Local I/O, or a client CA file that broke after the context was built: the old pair keeps
    // serving, the next poll tries again, the reason is logged once per new context.
    if (cur != failed_) {
      logger_.error(
          "could not hand the new TLS certificate to gRPC; the previous one keeps serving",
          {{"server", server_}, {"err", std::string(st.message())}});
      failed_ = cur;
    }
    return false;
  }
  published_ = std::move(cur);
  logger_.info("gRPC server uses a new TLS certificate", {{"server", server_}});
  return true;
}

// mu_ held.
absl::Status GrpcServerTls::publish(const std::shared_ptr<SSL_CTX>& ctx) {
  auto identity = identityPem(ctx.get());
  if (!identity.ok()) return identity.status();
  std::string ca;
  if (!ca_path_.empty()) {
    auto pem = clientCaPem(settings_);
    if (!pem.ok()) return pem.status();
    ca = *std::move(pem);
  }
  // gRPC detects a file replaced while it reads it by its modification time (in seconds): every
  // generation gets a later one.
  int64_t mtime = std::max<int64_t>(static_cast<int64_t>(std::time(nullptr)), last_mtime_ + 1);
  if (!ca_path_.empty()) {
    if (absl::Status st = writeAtomically(ca_path_, ca, static_cast<time_t>(mtime)); !st.ok()) {
      return st;
    }
  }
  if (absl::Status st = writeAtomically(identity_path_, *identity, static_cast<time_t>(mtime));
      !st.ok()) {
    return st;
  }
  last_mtime_ = mtime;
  return absl::OkStatus();
}

void GrpcServerTls::run() {
  std::unique_lock<std::mutex> l(mu_);
  while (!cv_.wait_for(l, kPublishPoll, [this] { return stop_; })) {
    l.unlock();
    publishIfChanged();
    l.lock();
  }
}

}  // namespace telegate::otelcol::receiver_otlp
