#include "src/net/curl_tls.h"

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "src/common/strings.h"

namespace telegate::net {

namespace {

long curlMinVersion(int openssl_version) {
  switch (openssl_version) {
    case TLS1_VERSION:
      return CURL_SSLVERSION_TLSv1_0;
    case TLS1_1_VERSION:
      return CURL_SSLVERSION_TLSv1_1;
    case TLS1_3_VERSION:
      return CURL_SSLVERSION_TLSv1_3;
    default:
      return CURL_SSLVERSION_TLSv1_2;
  }
}

long curlMaxVersion(int openssl_version) {
  switch (openssl_version) {
    case TLS1_VERSION:
      return CURL_SSLVERSION_MAX_TLSv1_0;
    case TLS1_1_VERSION:
      return CURL_SSLVERSION_MAX_TLSv1_1;
    case TLS1_2_VERSION:
      return CURL_SSLVERSION_MAX_TLSv1_2;
    default:
      return CURL_SSLVERSION_MAX_TLSv1_3;
  }
}

bool sameHost(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// CURLOPT_SSL_CTX_FUNCTION with include_system_ca_certs_pool: adds the configured CA (read now,
// so a rotated ca_file is used by the next connection) to the system roots curl loaded.
CURLcode addConfiguredCa(CURL*, void* ssl_ctx, void* user) {
  const auto* s = static_cast<const tls::TlsClientSettings*>(user);
  std::string pem = s->ca_pem;
  if (pem.empty()) {
    std::ifstream in(s->ca_file, std::ios::binary);
    if (!in) return CURLE_SSL_CACERT_BADFILE;
    std::ostringstream ss;
    ss << in.rdbuf();
    pem = ss.str();
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509_STORE* store = SSL_CTX_get_cert_store(static_cast<SSL_CTX*>(ssl_ctx));
  int added = 0;
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(store, x) == 1) ++added;
    X509_free(x);
  }
  BIO_free(bio);
  ERR_clear_error();
  return added > 0 ? CURLE_OK : CURLE_SSL_CACERT_BADFILE;
}

struct CurlUrl {
  CURLU* u = curl_url();
  ~CurlUrl() { curl_url_cleanup(u); }
  bool get(CURLUPart part, std::string* out, unsigned flags = 0) const {
    char* p = nullptr;
    if (curl_url_get(u, part, &p, flags) != CURLUE_OK) return false;
    *out = p;
    curl_free(p);
    return true;
  }
};

}  // namespace

CurlTlsRequest::~CurlTlsRequest() {
  if (connect_to != nullptr) curl_slist_free_all(connect_to);
}

absl::StatusOr<std::shared_ptr<const CurlTls>> CurlTls::create(tls::TlsClientSettings settings) {
  settings.insecure = false;  // the URL's scheme decides; the rest is checked and applied
  if (auto st = settings.validate(); !st.ok()) return st;
  std::shared_ptr<CurlTls> t(new CurlTls(std::move(settings)));
  const auto& s = t->settings_;
  auto min = tls::parseTlsVersion(s.min_version.empty() ? "1.2" : s.min_version);
  if (!min.ok()) return min.status();
  t->ssl_version_ = curlMinVersion(*min);
  if (!s.max_version.empty()) {
    auto max = tls::parseTlsVersion(s.max_version);
    if (!max.ok()) return max.status();
    t->ssl_version_ |= curlMaxVersion(*max);
  } else {
    t->ssl_version_ |= CURL_SSLVERSION_MAX_DEFAULT;
  }
  if (!s.cipher_suites.empty()) {
    auto list = tls::openSslCipherList(s.cipher_suites);
    if (!list.ok()) return list.status();
    t->cipher_list_ = *list;
  }
  if (*min < TLS1_2_VERSION) {
    // OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level; asking for them lowers it
    // for this client, as the listeners do.
    t->cipher_list_ = strCat(t->cipher_list_.empty() ? "DEFAULT" : t->cipher_list_, ":@SECLEVEL=0");
  }
  return std::shared_ptr<const CurlTls>(std::move(t));
}

absl::Status CurlTls::rewriteForServerName(std::string_view url, const std::string& server_name,
                                           std::string* new_url, std::string* connect_to,
                                           std::string* authority) {
  *new_url = std::string(url);
  connect_to->clear();
  authority->clear();
  if (server_name.empty()) return absl::OkStatus();
  CurlUrl u;
  if (u.u == nullptr) return absl::InternalError("curl_url failed");
  if (curl_url_set(u.u, CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) {
    return absl::InvalidArgumentError(strCat("invalid URL \"", url, "\""));
  }
  std::string scheme, host, port, explicit_port;
  u.get(CURLUPART_SCHEME, &scheme);
  if (!sameHost(scheme, "https")) return absl::OkStatus();  // TLS settings do not apply
  if (!u.get(CURLUPART_HOST, &host) || !u.get(CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
    return absl::InvalidArgumentError(strCat("invalid URL \"", url, "\""));
  }
  std::string sn = server_name;
  if (sn.find(':') != std::string::npos && sn.front() != '[') sn = strCat("[", sn, "]");
  if (sameHost(host, sn)) return absl::OkStatus();
  if (curl_url_set(u.u, CURLUPART_HOST, sn.c_str(), 0) != CURLUE_OK ||
      !u.get(CURLUPART_URL, new_url)) {
    return absl::InvalidArgumentError(
        strCat("server_name \"", server_name, "\" is not a host name"));
  }
  *connect_to = strCat(sn, ":", port, ":", host, ":", port);
  *authority = u.get(CURLUPART_PORT, &explicit_port) ? strCat(host, ":", explicit_port) : host;
  return absl::OkStatus();
}

absl::Status CurlTls::apply(void* handle, std::string_view url, CurlTlsRequest* out) const {
  CURL* c = static_cast<CURL*>(handle);
  const auto& s = settings_;
  std::string connect_to, authority;
  if (auto st = rewriteForServerName(url, s.server_name, &out->url, &connect_to, &authority);
      !st.ok()) {
    return st;
  }
  curl_easy_setopt(c, CURLOPT_URL, out->url.c_str());
  if (!connect_to.empty()) {
    out->connect_to = curl_slist_append(nullptr, connect_to.c_str());
    curl_easy_setopt(c, CURLOPT_CONNECT_TO, out->connect_to);
    out->host_header = strCat("Host: ", authority);
  }
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, s.insecure_skip_verify ? 0L : 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, s.insecure_skip_verify ? 0L : 2L);
  if (!s.ca_pem.empty() || !s.ca_file.empty()) {
    if (s.include_system_ca_certs_pool) {
      curl_easy_setopt(c, CURLOPT_CA_CACHE_TIMEOUT, 0L);  // the store is modified per connection
      curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, &addConfiguredCa);
      curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, const_cast<tls::TlsClientSettings*>(&settings_));
    } else {
      if (!s.ca_pem.empty()) {
        curl_blob b{const_cast<char*>(s.ca_pem.data()), s.ca_pem.size(), CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
      } else {
        curl_easy_setopt(c, CURLOPT_CAINFO, s.ca_file.c_str());
      }
      curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);  // only the configured CA
    }
  }
  if (!s.cert_pem.empty()) {
    curl_blob b{const_cast<char*>(s.cert_pem.data()), s.cert_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &b);
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
  } else if (!s.cert_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, s.cert_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!s.key_pem.empty()) {
    curl_blob b{const_cast<char*>(s.key_pem.data()), s.key_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &b);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (!s.key_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLKEY, s.key_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_easy_setopt(c, CURLOPT_SSLVERSION, ssl_version_);
  if (!cipher_list_.empty()) curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, cipher_list_.c_str());
  return absl::OkStatus();
}

}  // namespace telegate::net
