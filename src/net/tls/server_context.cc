// TlsServerContext: builds the OpenSSL server context from TlsServerSettings and keeps it fresh
// while the certificate files rotate (see tls.h for the contract).
//
// Files are read whole (at most 1 MiB each) and parsed from memory, so a build sees one version
// of each file. A rebuild whose inputs (file contents) equal those of the serving context is not
// published, so touching a file or reload_interval ticks over unchanged files cost one read.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "src/common/log.h"
#include "src/net/tls/tls.h"

namespace telegate::net::tls {
namespace {

constexpr size_t kMaxFileBytes = 1u << 20;

using Clock = std::chrono::steady_clock;

// The most recent OpenSSL error of this thread as text (and clears the queue).
std::string sslError() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

absl::StatusOr<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("open " + path + ": " + std::strerror(errno));
  std::string data;
  char buf[16384];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (data.size() > kMaxFileBytes) {
      return absl::InvalidArgumentError("read " + path + ": larger than 1 MiB");
    }
  }
  if (in.bad()) return absl::InternalError("read " + path + ": I/O error");
  return data;
}

// What a context is built from: the PEM texts (from files or inline) and where they came from.
struct Inputs {
  std::string cert, key, client_ca;
  bool operator==(const Inputs&) const = default;
};

absl::StatusOr<Inputs> readInputs(const TlsServerSettings& s) {
  Inputs in;
  struct Src {
    const std::string& file;
    const std::string& pem;
    std::string* out;
  };
  for (const Src& src :
       {Src{s.cert_file, s.cert_pem, &in.cert}, Src{s.key_file, s.key_pem, &in.key},
        Src{s.client_ca_file, s.client_ca_pem, &in.client_ca}}) {
    if (src.file.empty()) {
      *src.out = src.pem;
      continue;
    }
    auto data = readFile(src.file);
    if (!data.ok()) return data.status();
    *src.out = std::move(*data);
  }
  return in;
}

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
BioPtr memBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
}

// Every certificate in `pem`; an error when there is none or one does not parse.
absl::StatusOr<std::vector<X509*>> parseCerts(const std::string& pem, const std::string& what) {
  std::vector<X509*> out;
  BioPtr bio = memBio(pem);
  ERR_clear_error();
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.push_back(x);
  unsigned long err = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  if (out.empty() || (err != 0 && !clean_end)) {
    for (X509* x : out) X509_free(x);
    return absl::InvalidArgumentError(what + ": no valid PEM certificate");
  }
  return out;
}

int alpnExIndex() {
  static const int idx = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<std::string*>(ptr);
      });
  return idx;
}

int selectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg) {
  const auto* wire = static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(wire->data()),
                            static_cast<unsigned int>(wire->size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: continue without ALPN
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// Accepts any certificate chain (RequestClientCert / RequireAnyClientCert); the outcome stays in
// SSL_get_verify_result, so peerIdentity() marks only verified chains.
int acceptAny(int, X509_STORE_CTX*) {
  return 1;
}

constexpr char kTls13Preference[] =
    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";
// The AEAD suites with forward secrecy in the same order, then the rest of OpenSSL's default
// list (entries already named keep their place). The default set is spelled out as OpenSSL 3
// defines DEFAULT ("ALL:!COMPLEMENTOFDEFAULT:!eNULL"): the DEFAULT keyword itself is only
// honoured first in a cipher string, and after other entries it adds nothing.
constexpr char kTls12Preference[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ALL:!COMPLEMENTOFDEFAULT:!eNULL";

struct Built {
  std::shared_ptr<SSL_CTX> ctx;
  double not_after = 0;  // unix seconds
};

absl::StatusOr<Built> build(const TlsServerSettings& s, const Inputs& in) {
  const std::string cert_name = s.cert_file.empty() ? "cert_pem" : s.cert_file;
  const std::string key_name = s.key_file.empty() ? "key_pem" : s.key_file;
  const std::string ca_name = s.client_ca_file.empty() ? "client_ca_pem" : s.client_ca_file;
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (!ctx) return absl::InternalError("SSL_CTX_new: " + sslError());
  SSL_CTX* c = ctx.get();

  int min = TLS1_2_VERSION, max = TLS1_3_VERSION;
  if (!s.min_version.empty()) min = *parseTlsVersion(s.min_version);
  if (!s.max_version.empty()) max = *parseTlsVersion(s.max_version);
  // OpenSSL 3 refuses TLS 1.0/1.1 above security level 0; asking for them means accepting that.
  if (min < TLS1_2_VERSION) SSL_CTX_set_security_level(c, 0);
  if (SSL_CTX_set_min_proto_version(c, min) != 1 || SSL_CTX_set_max_proto_version(c, max) != 1) {
    return absl::InvalidArgumentError("TLS version range: " + sslError());
  }
  auto ciphers = openSslCipherList(s.cipher_suites);
  if (!ciphers.ok()) return ciphers.status();
  // Server preference (SSL_OP_CIPHER_SERVER_PREFERENCE below) for the cheapest AEAD: AES-128-GCM
  // first (on AES-NI it costs about two thirds of AES-256-GCM per byte), then ChaCha20-Poly1305,
  // which OpenSSL moves to the top for a client that lists it first (SSL_OP_PRIORITIZE_CHACHA:
  // clients without AES hardware), then AES-256-GCM. The set of suites stays OpenSSL's default;
  // only the order changes. cipher_suites, when set, is the TLS 1.2 list in the order given.
  if (SSL_CTX_set_ciphersuites(c, kTls13Preference) != 1) {
    return absl::InternalError("TLS 1.3 cipher suites: " + sslError());
  }
  const std::string tls12 = ciphers->empty() ? std::string(kTls12Preference) : *ciphers;
  if (SSL_CTX_set_cipher_list(c, tls12.c_str()) != 1) {
    return absl::InvalidArgumentError("cipher_suites: " + sslError());
  }
  auto groups = openSslGroupsList(s.curve_preferences);
  if (!groups.ok()) return groups.status();
  if (!groups->empty() && SSL_CTX_set1_groups_list(c, groups->c_str()) != 1) {
    return absl::InvalidArgumentError("curve_preferences: " + sslError());
  }

  auto certs = parseCerts(in.cert, cert_name);
  if (!certs.ok()) return certs.status();
  bool cert_ok = SSL_CTX_use_certificate(c, (*certs)[0]) == 1;
  for (size_t i = 1; cert_ok && i < certs->size(); ++i) {
    cert_ok = SSL_CTX_add1_chain_cert(c, (*certs)[i]) == 1;
  }
  Built b;
  if (cert_ok) {
    struct tm tm {};
    if (ASN1_TIME_to_tm(X509_get0_notAfter((*certs)[0]), &tm) == 1) {
      b.not_after = static_cast<double>(timegm(&tm));
    }
  }
  for (X509* x : *certs) X509_free(x);
  if (!cert_ok) return absl::InvalidArgumentError(cert_name + ": " + sslError());

  BioPtr key_bio = memBio(in.key);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(key_name + ": no valid PEM private key");
  }
  bool key_ok = SSL_CTX_use_PrivateKey(c, key) == 1;
  EVP_PKEY_free(key);
  if (!key_ok || SSL_CTX_check_private_key(c) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(key_name + ": private key does not match the certificate " +
                                      cert_name);
  }

  if (!in.client_ca.empty()) {
    auto cas = parseCerts(in.client_ca, ca_name);
    if (!cas.ok()) return cas.status();
    X509_STORE* store = SSL_CTX_get_cert_store(c);
    bool ok = true;
    for (X509* x : *cas) {
      ok = ok && X509_STORE_add_cert(store, x) == 1 && SSL_CTX_add_client_CA(c, x) == 1;
      X509_free(x);
    }
    if (!ok) return absl::InvalidArgumentError(ca_name + ": " + sslError());
  }
  if (s.include_system_ca_certs_pool && SSL_CTX_set_default_verify_paths(c) != 1) {
    return absl::InternalError("system CA certificates: " + sslError());
  }
  switch (s.client_auth) {
    case ClientAuth::kNoClientCert:
      SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::kRequestClientCert:
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER, acceptAny);
      break;
    case ClientAuth::kRequireAnyClientCert:
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, acceptAny);
      break;
    case ClientAuth::kVerifyClientCertIfGiven:
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuth::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }

  // Resumption: a server-side session cache plus stateless tickets (OpenSSL's default keys,
  // fresh per context, so a rotation starts new sessions with the new certificate).
  static const unsigned char kSidCtx[] = "telegate";
  SSL_CTX_set_session_id_context(c, kSidCtx, sizeof kSidCtx - 1);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(c, 10000);
  SSL_CTX_set_timeout(c, 2 * 3600);
  SSL_CTX_set_num_tickets(c, 1);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);

  if (!s.alpn.empty()) {
    auto* wire = new std::string;
    for (const std::string& p : s.alpn) {
      wire->push_back(static_cast<char>(p.size()));
      wire->append(p);
    }
    SSL_CTX_set_ex_data(c, alpnExIndex(), wire);  // freed with the SSL_CTX
    SSL_CTX_set_alpn_select_cb(c, selectAlpn, wire);
  }
  b.ctx = std::move(ctx);
  return b;
}

// What the watcher compares: for each file, its resolved path and the identity of its target.
struct Stamp {
  std::string real;
  dev_t dev = 0;
  ino_t ino = 0;
  int64_t mtime_ns = 0;
  off_t size = -1;
  bool operator==(const Stamp&) const = default;
};

Stamp stampOf(const std::string& path) {
  Stamp s;
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) != nullptr) s.real = buf;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    s.size = st.st_size;
  }
  return s;
}

}  // namespace

class TlsServerContext::Impl {
 public:
  Impl(TlsServerSettings s, std::string server, metrics::Registry* m)
      : settings(std::move(s)), server_name(std::move(server)), logger({{"server", server_name}}) {
    for (const std::string* f :
         {&settings.cert_file, &settings.key_file, &settings.client_ca_file}) {
      if (!f->empty()) files.push_back(*f);
    }
    if (m != nullptr) {
      auto& reloads = m->counter("telegate_tls_certificate_reloads_total",
                                 "TLS certificate reloads of a server, by result (ok, error).",
                                 {"server", "result"});
      reload_ok = &reloads.with({server_name, "ok"});
      reload_error = &reloads.with({server_name, "error"});
      expiry =
          &m->gauge("telegate_tls_certificate_expiry_timestamp_seconds",
                    "notAfter of the certificate a TLS server presents (unix seconds).", {"server"})
               .with({server_name});
    }
  }

  std::vector<Stamp> stamps() const {
    std::vector<Stamp> out;
    for (const std::string& f : files) out.push_back(stampOf(f));
    return out;
  }

  absl::Status loadInitial() {
    last_stamps = stamps();
    auto in = readInputs(settings);
    if (!in.ok()) return in.status();
    auto b = build(settings, *in);
    if (!b.ok()) return b.status();
    publish(std::move(*b), std::move(*in));
    return absl::OkStatus();
  }

  void publish(Built b, Inputs in) {
    current.store(std::move(b.ctx), std::memory_order_release);
    inputs = std::move(in);
    if (expiry != nullptr) expiry->set(b.not_after);
  }

  bool reloadIfChanged() {
    std::lock_guard<std::mutex> lock(reload_mu);
    std::vector<Stamp> now_stamps = stamps();
    const Clock::time_point now = Clock::now();
    const bool interval_due =
        settings.reload_interval.count() > 0 && now - last_check >= settings.reload_interval;
    if (now_stamps == last_stamps && !interval_due) return false;
    last_stamps = std::move(now_stamps);
    last_check = now;
    auto in = readInputs(settings);
    absl::Status err;
    if (!in.ok()) {
      err = in.status();
    } else if (*in == inputs) {
      return false;  // same contents: nothing to publish
    } else {
      auto b = build(settings, *in);
      if (b.ok()) {
        publish(std::move(*b), std::move(*in));
        if (reload_ok != nullptr) reload_ok->inc();
        last_error.clear();
        logger.info("TLS certificate reloaded");
        return true;
      }
      err = b.status();
    }
    if (reload_error != nullptr) reload_error->inc();
    std::string reason(err.message());
    if (reason != last_error) {
      logger.warn("TLS certificate reload failed; keeping the previous certificate",
                  {{"reason", reason}});
      last_error = std::move(reason);
    }
    return false;
  }

  void startWatcher() {
    if (files.empty()) return;  // inline PEM only: nothing can change
    watcher = std::thread([this] {
      std::unique_lock<std::mutex> lock(watch_mu);
      while (!stopping) {
        watch_cv.wait_for(lock, std::chrono::seconds(1));
        if (stopping) break;
        lock.unlock();
        reloadIfChanged();
        lock.lock();
      }
    });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(watch_mu);
      stopping = true;
    }
    watch_cv.notify_all();
    if (watcher.joinable() && watcher.get_id() != std::this_thread::get_id()) watcher.join();
  }

  const TlsServerSettings settings;
  const std::string server_name;
  const log::Logger logger;
  std::vector<std::string> files;
  metrics::Counter* reload_ok = nullptr;
  metrics::Counter* reload_error = nullptr;
  metrics::Gauge* expiry = nullptr;

  std::atomic<std::shared_ptr<SSL_CTX>> current;

  std::mutex reload_mu;  // guards the fields below
  std::vector<Stamp> last_stamps;
  Inputs inputs;
  Clock::time_point last_check = Clock::now();
  std::string last_error;

  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool stopping = false;
  std::thread watcher;
};

absl::StatusOr<std::shared_ptr<TlsServerContext>> TlsServerContext::create(
    TlsServerSettings settings, std::string server, metrics::Registry* metrics) {
  if (absl::Status s = settings.validate(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(std::move(settings), std::move(server), metrics);
  if (absl::Status s = impl->loadInitial(); !s.ok()) return s;
  impl->startWatcher();
  return std::shared_ptr<TlsServerContext>(new TlsServerContext(std::move(impl)));
}

TlsServerContext::TlsServerContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TlsServerContext::~TlsServerContext() {
  stop();
}

std::shared_ptr<SSL_CTX> TlsServerContext::current() const {
  return impl_->current.load(std::memory_order_acquire);
}

const TlsServerSettings& TlsServerContext::settings() const {
  return impl_->settings;
}

void TlsServerContext::stop() {
  impl_->stop();
}

bool TlsServerContext::reloadIfChanged() {
  return impl_->reloadIfChanged();
}

}  // namespace telegate::net::tls
