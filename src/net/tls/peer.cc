// peerIdentity(): the verified client certificate of a finished handshake (see tls.h).
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "src/net/tls/tls.h"

namespace telegate::net::tls {
namespace {

std::string asn1String(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                  static_cast<size_t>(ASN1_STRING_length(s)));
  // A name with an embedded NUL is not a name anyone can match; drop it rather than truncate.
  if (out.find('\0') != std::string::npos) return {};
  return out;
}

std::string rfc2253(const X509_NAME* name) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// The last commonName of `name` (the most specific one; Go's pkix.Name does the same).
std::string commonName(const X509_NAME* name) {
  int idx = -1;
  int last = -1;
  while ((idx = X509_NAME_get_index_by_NID(name, NID_commonName, idx)) >= 0) last = idx;
  if (last < 0) return {};
  const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, last);
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(e);
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  if (out.find('\0') != std::string::npos) return {};
  return out;
}

void subjectAltNames(X509* cert, PeerIdentity* id) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    std::string v;
    switch (gn->type) {
      case GEN_DNS:
        v = asn1String(gn->d.dNSName);
        if (!v.empty()) id->dns_names.push_back(std::move(v));
        break;
      case GEN_URI:
        v = asn1String(gn->d.uniformResourceIdentifier);
        if (!v.empty()) id->uris.push_back(std::move(v));
        break;
      case GEN_EMAIL:
        v = asn1String(gn->d.rfc822Name);
        if (!v.empty()) id->emails.push_back(std::move(v));
        break;
      default:
        break;
    }
  }
  GENERAL_NAMES_free(names);
}

std::string sha256Hex(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
}

}  // namespace

std::shared_ptr<const PeerIdentity> peerIdentity(SSL* ssl) {
  auto id = std::make_shared<PeerIdentity>();
  if (ssl == nullptr) return id;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return id;
  id->verified = true;
  const X509_NAME* subject = X509_get_subject_name(cert);
  id->subject = rfc2253(subject);
  id->common_name = commonName(subject);
  subjectAltNames(cert, id.get());
  id->sha256_fingerprint = sha256Hex(cert);
  return id;
}

}  // namespace telegate::net::tls
