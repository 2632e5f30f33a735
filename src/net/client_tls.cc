#include "src/net/client_tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "src/common/strings.h"

namespace telegate::net {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

bool readWhole(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// The text of `pem`, or of `file` when pem is empty. `what` names the pair ("ca", "cert", "key").
absl::Status source(const std::string& pem, const std::string& file, const char* what,
                    std::string* out, std::string* origin) {
  if (!pem.empty()) {
    *out = pem;
    *origin = strCat(what, "_pem");
    return absl::OkStatus();
  }
  if (file.empty()) return absl::OkStatus();
  *origin = strCat(what, "_file ", file);
  if (!readWhole(file, out)) {
    return absl::FailedPreconditionError(strCat(*origin, ": cannot read the file"));
  }
  return absl::OkStatus();
}

std::unique_ptr<BIO, BioFree> memBio(const std::string& s) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

std::string sslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "not PEM";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

absl::Status checkCertificates(const std::string& pem, const std::string& origin) {
  auto bio = memBio(pem);
  int n = 0;
  while (true) {
    std::unique_ptr<X509, X509Free> x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!x) break;
    ++n;
  }
  ERR_clear_error();  // the end of the input reads as an error
  if (n == 0) return absl::FailedPreconditionError(strCat(origin, ": no certificate in it"));
  return absl::OkStatus();
}

}  // namespace

std::string systemCaBundleFile() {
  const char* env = std::getenv(X509_get_default_cert_file_env());
  if (env != nullptr && *env != '\0') return env;
  return X509_get_default_cert_file();
}

absl::StatusOr<ClientTlsPem> loadClientTlsPem(const tls::TlsClientSettings& s) {
  ClientTlsPem out;
  std::string ca_origin, cert_origin, key_origin;
  if (auto st = source(s.ca_pem, s.ca_file, "ca", &out.ca, &ca_origin); !st.ok()) return st;
  if (auto st = source(s.cert_pem, s.cert_file, "cert", &out.cert, &cert_origin); !st.ok()) {
    return st;
  }
  if (auto st = source(s.key_pem, s.key_file, "key", &out.key, &key_origin); !st.ok()) return st;
  if (!out.ca.empty()) {
    if (auto st = checkCertificates(out.ca, ca_origin); !st.ok()) return st;
    if (s.include_system_ca_certs_pool) {
      std::string system;
      if (readWhole(systemCaBundleFile(), &system)) {
        out.ca = strCat(system, system.empty() || system.back() == '\n' ? "" : "\n", out.ca);
      }
    }
  }
  if (out.cert.empty() != out.key.empty()) {
    return absl::FailedPreconditionError(
        out.cert.empty() ? strCat(key_origin, ": a client key needs cert_file or cert_pem")
                         : strCat(cert_origin, ": a client certificate needs key_file or key_pem"));
  }
  if (out.cert.empty()) return out;
  auto cert_bio = memBio(out.cert);
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::FailedPreconditionError(
        strCat(cert_origin, ": no certificate in it (", sslError(), ")"));
  }
  auto key_bio = memBio(out.key);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::FailedPreconditionError(
        strCat(key_origin, ": no private key in it (", sslError(), ")"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(
        strCat(key_origin, ": the key does not belong to the certificate of ", cert_origin));
  }
  return out;
}

TlsFileWatch::TlsFileWatch(const tls::TlsClientSettings& s, std::chrono::milliseconds period,
                           Clock clock)
    : files_([&] {
        std::vector<std::string> f;
        for (const std::string* p : {&s.ca_file, &s.cert_file, &s.key_file}) {
          if (!p->empty()) f.push_back(*p);
        }
        return f;
      }()),
      period_(period),
      clock_(std::move(clock)) {
  last_ = fingerprint();
  next_check_ns_.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>((clock_() + period_).time_since_epoch())
          .count(),
      std::memory_order_relaxed);
}

size_t TlsFileWatch::fingerprint() const {
  size_t h = 0;
  for (const auto& f : files_) {
    std::string content;
    if (!readWhole(f, &content)) content = "\x01missing";
    h = h * 1000003u ^ std::hash<std::string>()(content);
  }
  return h;
}

uint64_t TlsFileWatch::generation() {
  if (files_.empty()) return 0;
  int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_().time_since_epoch()).count();
  if (now < next_check_ns_.load(std::memory_order_relaxed)) {
    return generation_.load(std::memory_order_acquire);
  }
  std::unique_lock<std::mutex> l(mu_, std::try_to_lock);
  if (!l.owns_lock() || now < next_check_ns_.load(std::memory_order_relaxed)) {
    return generation_.load(std::memory_order_acquire);
  }
  size_t h = fingerprint();
  if (h != last_) {
    last_ = h;
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  next_check_ns_.store(now + std::chrono::duration_cast<std::chrono::nanoseconds>(period_).count(),
                       std::memory_order_relaxed);
  return generation_.load(std::memory_order_acquire);
}

uint64_t TlsFileWatch::checkNow() {
  if (files_.empty()) return 0;
  std::lock_guard<std::mutex> l(mu_);
  size_t h = fingerprint();
  if (h != last_) {
    last_ = h;
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  return generation_.load(std::memory_order_acquire);
}

}  // namespace telegate::net
