#include "src/admin/access.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <charconv>

#include "absl/strings/escaping.h"

namespace telegate::admin {

namespace {

std::array<unsigned char, 32> digestOf(std::string_view s) {
  std::array<unsigned char, 32> d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool isProbe(std::string_view path) {
  return path == "/-/ready" || path == "/-/healthy";
}

bool isKnownPath(std::string_view path) {
  return isProbe(path) || path == "/metrics" || path == "/-/reload" || path == "/" ||
         path == "/index.html" || path == "/api/v0/web/components" ||
         path.starts_with("/api/v0/web/components/");
}

net::HttpResponse refusal(int status, std::string body) {
  return net::HttpResponse::text(status, std::move(body));
}

}  // namespace

AccessPolicy::AccessPolicy(const runtime::HttpBlockArgs& args) {
  if (!args.auth || !args.auth->basic) return;
  basic_ = true;
  user_ = digestOf(args.auth->basic->username);
  password_ = digestOf(args.auth->basic->password.value);
  if (args.auth->filter) {
    has_filter_ = true;
    authenticate_matching_paths_ = args.auth->filter->authenticate_matching_paths;
    paths_ = args.auth->filter->paths;
  }
}

bool AccessPolicy::needsCredential(std::string_view path) const {
  if (!basic_) return false;
  if (!has_filter_) return !isProbe(path);  // Alloy's zero-value filter: every path
  bool matches = false;
  bool names_probe = false;
  for (const auto& p : paths_) {
    if (!path.starts_with(p)) continue;
    matches = true;
    if (!p.empty() && p != "/") names_probe = true;
  }
  if (isProbe(path)) return authenticate_matching_paths_ && names_probe;
  return authenticate_matching_paths_ ? matches : !matches;
}

bool AccessPolicy::credentialValid(std::string_view authorization) const {
  // credentials = auth-scheme 1*SP token68 (RFC 7235 section 2.1); the scheme is
  // case-insensitive.
  constexpr std::string_view kScheme = "basic";
  if (authorization.size() <= kScheme.size() ||
      !equalsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return false;
  }
  std::string_view rest = authorization.substr(kScheme.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  std::string decoded;
  if (rest.empty() || !absl::Base64Unescape(absl::string_view(rest.data(), rest.size()), &decoded))
    return false;
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  auto u = digestOf(std::string_view(decoded).substr(0, colon));
  auto p = digestOf(std::string_view(decoded).substr(colon + 1));
  // Both comparisons always run.
  int user_diff = CRYPTO_memcmp(u.data(), user_.data(), u.size());
  int pass_diff = CRYPTO_memcmp(p.data(), password_.data(), p.size());
  return (user_diff | pass_diff) == 0;
}

std::optional<net::HttpResponse> checkHead(const AccessPolicy& policy, const net::HttpRequest& head,
                                           Refusal* why) {
  auto refuse = [&](Refusal r, net::HttpResponse resp) -> std::optional<net::HttpResponse> {
    if (why != nullptr) *why = r;
    return resp;
  };
  if (why != nullptr) *why = Refusal::kNone;
  const std::string& path = head.path;
  if (policy.needsCredential(path) && !policy.credentialValid(head.header("authorization"))) {
    net::HttpResponse r = refusal(401, "401 Unauthorized\n");
    r.headers.emplace_back("WWW-Authenticate", std::string(kBasicChallenge));
    return refuse(Refusal::kUnauthorized, std::move(r));
  }
  const bool reload = path == "/-/reload";
  if (reload && head.method != "POST") {
    net::HttpResponse r = refusal(405, "405 method not allowed, supported: [POST]\n");
    r.headers.emplace_back("Allow", "POST");
    return refuse(Refusal::kMethodNotAllowed, std::move(r));
  }
  if (!reload && isKnownPath(path) && head.method != "GET" && head.method != "HEAD") {
    net::HttpResponse r = refusal(405, "405 method not allowed, supported: [GET, HEAD]\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return refuse(Refusal::kMethodNotAllowed, std::move(r));
  }
  std::string_view te = head.header("transfer-encoding");
  std::string_view cl = head.header("content-length");
  uint64_t length = 0;
  bool length_ok = true;
  if (!cl.empty()) {
    auto [end, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), length);
    length_ok = ec == std::errc() && end == cl.data() + cl.size();
  }
  size_t limit = reload ? kMaxReloadBodyBytes : 0;
  // A chunked reload body is bounded by the server's max_body_bytes (the admin server sets it to
  // kMaxReloadBodyBytes); elsewhere any announced body is refused.
  if (!length_ok || length > limit || (!te.empty() && !reload)) {
    return refuse(Refusal::kBodyNotAllowed,
                  refusal(413, reload ? "413 request body too large\n"
                                      : "413 request body not allowed on this path\n"));
  }
  return std::nullopt;
}

std::string_view refusalName(Refusal r) {
  switch (r) {
    case Refusal::kNone:
      return "none";
    case Refusal::kUnauthorized:
      return "unauthorized";
    case Refusal::kMethodNotAllowed:
      return "method_not_allowed";
    case Refusal::kBodyNotAllowed:
      return "body_not_allowed";
  }
  return "none";
}

}  // namespace telegate::admin
