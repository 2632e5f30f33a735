// Test certificates made at test time with the OpenSSL API (header-only; link OpenSSL::Crypto).
// Nothing is committed: every key is generated in memory when a test runs.
//
// Contract:
//  * TestCa("name") is a self-signed CA (EC P-256, CN=name, valid from an hour ago for a day).
//    issue(spec) signs a leaf certificate for spec's names: CN, DNS/IP/URI/e-mail SANs, validity
//    relative to now (negative not_after_seconds gives an expired certificate), extended key
//    usage serverAuth and clientAuth. Each call makes a new key.
//  * TempDir is a fresh private directory under $TMPDIR (or /tmp), removed with everything in it
//    when destroyed. write() replaces a file atomically (write to a temporary name, rename).
//  * swapDataDir() reproduces kubelet's update of a mounted Secret: the files live in a
//    timestamped directory, `..data` is a symlink to it, and each visible name is a symlink
//    through `..data`; an update writes a new directory and renames a new `..data` link over the
//    old one (one atomic rename), then removes the old directory.
// Failures abort the test (they indicate a broken OpenSSL, not the code under test).
// Threading: no shared state; a TestCa may be used from several threads for issue().
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace telegate::testing {

struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns, ips, uris, emails;
  long not_before_seconds = -3600;  // relative to now
  long not_after_seconds = 86400;   // relative to now; negative: already expired
};

struct TestKeyPair {
  std::string cert_pem;
  std::string key_pem;
};

namespace certs_detail {

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "test_certs: %s failed\n", what);
  std::abort();
}

inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

inline PKey newKey() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  check(k != nullptr, "EVP_PKEY_Q_keygen");
  return PKey(k, EVP_PKEY_free);
}

inline std::string toPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  check(PEM_write_bio_X509(bio, cert) == 1, "PEM_write_bio_X509");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

inline std::string toPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  check(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

inline void addExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

inline Cert makeCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                     bool ca) {
  static std::atomic<long> serial{1000};
  Cert cert(X509_new(), X509_free);
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial.fetch_add(1));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_seconds);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_seconds);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("telegate tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (ca) {
    addExt(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    addExt(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExt(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    addExt(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    addExt(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  addExt(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) addExt(cert.get(), signer, NID_authority_key_identifier, "keyid");
  std::string san;
  auto add = [&san](const char* kind, const std::vector<std::string>& values) {
    for (const auto& v : values) san += (san.empty() ? "" : ",") + std::string(kind) + ":" + v;
  };
  add("DNS", spec.dns);
  add("IP", spec.ips);
  add("URI", spec.uris);
  add("email", spec.emails);
  if (!san.empty()) addExt(cert.get(), signer, NID_subject_alt_name, san);
  check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0,
        "X509_sign");
  return cert;
}

}  // namespace certs_detail

class TestCa {
 public:
  explicit TestCa(const std::string& name)
      : key_(certs_detail::newKey()), cert_(nullptr, X509_free) {
    CertSpec spec;
    spec.common_name = name;
    cert_ = certs_detail::makeCert(spec, key_.get(), nullptr, nullptr, true);
    cert_pem_ = certs_detail::toPem(cert_.get());
  }

  const std::string& certPem() const { return cert_pem_; }

  TestKeyPair issue(const CertSpec& spec) const {
    certs_detail::PKey key = certs_detail::newKey();
    certs_detail::Cert cert =
        certs_detail::makeCert(spec, key.get(), cert_.get(), key_.get(), false);
    return {certs_detail::toPem(cert.get()), certs_detail::toPem(key.get())};
  }

  // A server certificate for loopback: CN and DNS localhost, IP 127.0.0.1 and ::1.
  TestKeyPair issueServer(long not_after_seconds = 86400) const {
    CertSpec spec;
    spec.common_name = "localhost";
    spec.dns = {"localhost"};
    spec.ips = {"127.0.0.1", "::1"};
    spec.not_after_seconds = not_after_seconds;
    return issue(spec);
  }

 private:
  certs_detail::PKey key_;
  certs_detail::Cert cert_;
  std::string cert_pem_;
};

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/telegate-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    certs_detail::check(::mkdtemp(buf.data()) != nullptr, "mkdtemp");
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes dir/name atomically; returns its path.
  std::string write(const std::string& name, const std::string& content) const {
    std::string target = file(name);
    std::string tmp = target + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << content;
      certs_detail::check(static_cast<bool>(out), "write");
    }
    std::filesystem::rename(tmp, target);
    return target;
  }

  // kubelet's Secret volume update (see the contract): `files` (name -> content) become visible
  // as dir/<name> through the `..data` symlink, replacing the previous set in one rename.
  void swapDataDir(const std::map<std::string, std::string>& files) {
    namespace fs = std::filesystem;
    std::string gen = "..gen_" + std::to_string(++generation_);
    fs::create_directory(file(gen));
    for (const auto& [name, content] : files) {
      std::ofstream out(file(gen + "/" + name), std::ios::binary | std::ios::trunc);
      out << content;
      certs_detail::check(static_cast<bool>(out), "write");
    }
    std::string old;
    std::error_code ec;
    if (fs::is_symlink(file("..data"), ec)) old = fs::read_symlink(file("..data")).string();
    fs::create_directory_symlink(gen, file("..data_tmp"));
    fs::rename(file("..data_tmp"), file("..data"));
    for (const auto& entry : files) {
      const std::string& name = entry.first;
      if (!fs::is_symlink(file(name), ec)) fs::create_symlink("..data/" + name, file(name));
    }
    if (!old.empty()) fs::remove_all(file(old), ec);
  }

 private:
  std::string path_;
  int generation_ = 0;
};

}  // namespace telegate::testing
