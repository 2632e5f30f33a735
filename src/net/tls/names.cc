// Name tables shared by every TLS user (see tls.h): TLS versions, Go/IANA cipher suite names,
// Go curve names and Go's client authentication types, plus the settings' validate().
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "src/net/tls/tls.h"

namespace telegate::net::tls {
namespace {

// Concatenates string-like pieces (Debian's absl::StrCat does not take std::string_view).
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

std::string join(const std::vector<std::string_view>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

struct NamePair {
  std::string_view go;
  std::string_view openssl;  // "" = a TLS 1.3 suite (not configurable, as in Go)
};

// The suites Go's crypto/tls implements and calls secure, plus the RSA key exchange ones Go still
// accepts by name. RC4 and 3DES suites are refused (OpenSSL 3 does not offer them by default).
constexpr std::array<NamePair, 21> kCipherSuites{{
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    // Go's older aliases of the two above.
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_AES_128_GCM_SHA256", ""},
    {"TLS_AES_256_GCM_SHA384", ""},
    {"TLS_CHACHA20_POLY1305_SHA256", ""},
}};

constexpr std::array<NamePair, 7> kCurves{{
    {"X25519", "X25519"},
    {"CurveP256", "P-256"},
    {"CurveP384", "P-384"},
    {"CurveP521", "P-521"},
    // The otelcol `curve_preferences` spelling.
    {"P256", "P-256"},
    {"P384", "P-384"},
    {"P521", "P-521"},
}};

const NamePair* lookup(const auto& table, std::string_view name) {
  for (const NamePair& p : table) {
    if (p.go == name) return &p;
  }
  return nullptr;
}

// Appends `openssl` to `out` unless it is already there.
void appendUnique(std::vector<std::string_view>& out, std::string_view openssl) {
  if (std::find(out.begin(), out.end(), openssl) == out.end()) out.push_back(openssl);
}

absl::Status prefixed(std::string_view attribute, const absl::Status& s) {
  return absl::InvalidArgumentError(cat(attribute, ": ", std::string(s.message())));
}

// Checks min_version/max_version: each known when set, min <= max.
absl::Status validateVersions(const std::string& min_version, const std::string& max_version) {
  int min = TLS1_2_VERSION;
  int max = TLS1_3_VERSION;
  if (!min_version.empty()) {
    auto v = parseTlsVersion(min_version);
    if (!v.ok()) return prefixed("min_version", v.status());
    min = *v;
  }
  if (!max_version.empty()) {
    auto v = parseTlsVersion(max_version);
    if (!v.ok()) return prefixed("max_version", v.status());
    max = *v;
  }
  if (min > max) {
    return absl::InvalidArgumentError(
        cat("min_version \"", min_version.empty() ? std::string("1.2") : min_version,
            "\" is above max_version \"", max_version.empty() ? std::string("1.3") : max_version,
            "\""));
  }
  return absl::OkStatus();
}

// At most one of `file`/`pem`; when `required`, exactly one.
absl::Status oneSource(std::string_view what, const std::string& file, const std::string& pem,
                       bool required) {
  if (!file.empty() && !pem.empty()) {
    return absl::InvalidArgumentError(cat(what, "_file and ", what, "_pem are mutually exclusive"));
  }
  if (required && file.empty() && pem.empty()) {
    return absl::InvalidArgumentError(cat(what, "_file or ", what, "_pem is required"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ClientAuth> parseClientAuth(std::string_view name) {
  if (name.empty() || name == "NoClientCert") return ClientAuth::kNoClientCert;
  if (name == "RequestClientCert") return ClientAuth::kRequestClientCert;
  if (name == "RequireAnyClientCert") return ClientAuth::kRequireAnyClientCert;
  if (name == "VerifyClientCertIfGiven") return ClientAuth::kVerifyClientCertIfGiven;
  if (name == "RequireAndVerifyClientCert") return ClientAuth::kRequireAndVerifyClientCert;
  return absl::InvalidArgumentError(
      cat("unknown client authentication type \"", name,
          "\" (use \"NoClientCert\", \"RequestClientCert\", \"RequireAnyClientCert\", "
          "\"VerifyClientCertIfGiven\" or \"RequireAndVerifyClientCert\")"));
}

absl::StatusOr<int> parseTlsVersion(std::string_view version) {
  if (version == "1.0") return TLS1_VERSION;
  if (version == "1.1") return TLS1_1_VERSION;
  if (version == "1.2") return TLS1_2_VERSION;
  if (version == "1.3") return TLS1_3_VERSION;
  return absl::InvalidArgumentError(
      cat("unknown TLS version \"", version, "\" (use \"1.0\", \"1.1\", \"1.2\" or \"1.3\")"));
}

absl::StatusOr<std::string> openSslCipherList(const std::vector<std::string>& suites) {
  std::vector<std::string_view> names;
  std::vector<std::string_view> unknown;
  for (const std::string& s : suites) {
    const NamePair* p = lookup(kCipherSuites, s);
    if (p == nullptr) {
      unknown.push_back(s);
    } else if (!p->openssl.empty()) {
      appendUnique(names, p->openssl);
    }
  }
  if (!unknown.empty()) {
    return absl::InvalidArgumentError(
        cat("unknown or unsupported cipher suite", std::string_view(unknown.size() > 1 ? "s" : ""),
            " \"", join(unknown, "\", \""),
            "\" (use Go's names, e.g. \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\")"));
  }
  return join(names, ":");
}

absl::StatusOr<std::string> openSslGroupsList(const std::vector<std::string>& curves) {
  std::vector<std::string_view> names;
  for (const std::string& c : curves) {
    const NamePair* p = lookup(kCurves, c);
    if (p == nullptr) {
      return absl::InvalidArgumentError(
          cat("unknown curve \"", c,
              "\" (use \"X25519\", \"CurveP256\", \"CurveP384\" or \"CurveP521\")"));
    }
    appendUnique(names, p->openssl);
  }
  return join(names, ":");
}

absl::Status TlsServerSettings::validate() const {
  if (auto s = oneSource("cert", cert_file, cert_pem, true); !s.ok()) return s;
  if (auto s = oneSource("key", key_file, key_pem, true); !s.ok()) return s;
  if (auto s = oneSource("client_ca", client_ca_file, client_ca_pem, false); !s.ok()) return s;
  if (auto s = validateVersions(min_version, max_version); !s.ok()) return s;
  if (auto c = openSslCipherList(cipher_suites); !c.ok())
    return prefixed("cipher_suites", c.status());
  if (auto g = openSslGroupsList(curve_preferences); !g.ok()) {
    return prefixed("curve_preferences", g.status());
  }
  const bool verifies = client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                        client_auth == ClientAuth::kRequireAndVerifyClientCert;
  if (verifies && client_ca_file.empty() && client_ca_pem.empty() &&
      !include_system_ca_certs_pool) {
    return absl::InvalidArgumentError(
        "client_ca_file is required when client certificates are verified");
  }
  if (reload_interval.count() < 0) {
    return absl::InvalidArgumentError("reload_interval must not be negative");
  }
  for (const std::string& p : alpn) {
    if (p.empty() || p.size() > 255) {
      return absl::InvalidArgumentError(
          cat("alpn: invalid protocol name \"", p, "\" (1 to 255 bytes)"));
    }
  }
  return absl::OkStatus();
}

absl::Status TlsClientSettings::validate() const {
  if (insecure) return absl::OkStatus();
  if (auto s = oneSource("ca", ca_file, ca_pem, false); !s.ok()) return s;
  if (auto s = oneSource("cert", cert_file, cert_pem, false); !s.ok()) return s;
  if (auto s = oneSource("key", key_file, key_pem, false); !s.ok()) return s;
  const bool has_cert = !cert_file.empty() || !cert_pem.empty();
  const bool has_key = !key_file.empty() || !key_pem.empty();
  if (has_cert && !has_key) {
    return absl::InvalidArgumentError("key_file or key_pem is required with a client certificate");
  }
  if (has_key && !has_cert) {
    return absl::InvalidArgumentError("cert_file or cert_pem is required with a client key");
  }
  if (auto s = validateVersions(min_version, max_version); !s.ok()) return s;
  if (auto c = openSslCipherList(cipher_suites); !c.ok())
    return prefixed("cipher_suites", c.status());
  if (reload_interval.count() < 0) {
    return absl::InvalidArgumentError("reload_interval must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace telegate::net::tls
