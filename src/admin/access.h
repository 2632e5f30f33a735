// Access control of the admin server: the root `http` block's `auth` (Alloy's semantics) plus
// telegate's method and body rules, decided from the request line and headers alone.
//
// Contract:
//  * AccessPolicy is built from runtime::HttpBlockArgs and is immutable afterwards (share it
//    between threads freely). Without `auth.basic` nothing needs a credential. With it, which
//    paths need `Authorization: Basic ...` is decided by the filter, comparing path prefixes as
//    Alloy does:
//      - no `filter` block (Alloy's zero value): every path;
//      - authenticate_matching_paths = true (the default inside `filter`): the paths that start
//        with one of `paths`;
//      - authenticate_matching_paths = false: the paths that start with none of `paths`.
//    Difference from Alloy: the probe paths /-/ready and /-/healthy stay open unless a `paths`
//    entry other than "" and "/" is a prefix of them and authenticate_matching_paths = true, i.e.
//    the user named them (e.g. "/-/", "/-/healthy"). Kubelet probes carry no credential.
//  * The credential check hashes the presented and the configured user name and password with
//    SHA-256 and compares both digests with CRYPTO_memcmp, always both, so its timing reveals
//    neither the lengths nor which half was wrong. The scheme is matched case-insensitively and
//    may be followed by one or more spaces (RFC 7235).
//  * checkHead() judges a request from its method, path and headers (it never reads the body)
//    and returns the refusal to send, or nullopt to let the request through, in this order:
//      401 + `WWW-Authenticate: Basic realm="telegate", charset="UTF-8"` when a credential is
//          needed and missing or wrong;
//      405 + `Allow` when the method is not allowed: POST only for /-/reload, GET/HEAD only for
//          the other known paths (unknown paths fall through to the handler's 404);
//      413 when a body is announced (Content-Length > 0 or Transfer-Encoding) except on
//          POST /-/reload, whose body may not exceed kMaxReloadBodyBytes (it is ignored).
// Threading: all functions are pure; safe from any thread.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/net/http_server.h"
#include "src/runtime/http_block.h"

namespace telegate::admin {

inline constexpr size_t kMaxReloadBodyBytes = 4096;
inline constexpr std::string_view kBasicChallenge = "Basic realm=\"telegate\", charset=\"UTF-8\"";

enum class Refusal { kNone, kUnauthorized, kMethodNotAllowed, kBodyNotAllowed };

class AccessPolicy {
 public:
  AccessPolicy() = default;  // no authentication
  explicit AccessPolicy(const runtime::HttpBlockArgs& args);

  bool authEnabled() const { return basic_; }
  // Whether a request for `path` must carry the credential.
  bool needsCredential(std::string_view path) const;
  // Whether an Authorization header value carries the configured user name and password.
  bool credentialValid(std::string_view authorization) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  bool basic_ = false;
  Digest user_{};
  Digest password_{};
  bool has_filter_ = false;
  bool authenticate_matching_paths_ = true;
  std::vector<std::string> paths_;
};

// The refusal for a request judged at its headers, or nullopt. `*why` (optional) gets the reason.
std::optional<net::HttpResponse> checkHead(const AccessPolicy& policy, const net::HttpRequest& head,
                                           Refusal* why = nullptr);

// "unauthorized", "method_not_allowed", "body_not_allowed" (metric label values).
std::string_view refusalName(Refusal r);

}  // namespace telegate::admin
