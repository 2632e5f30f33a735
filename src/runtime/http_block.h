// The root-only `http` block: settings of the admin HTTP server (--server.http.listen-addr), with
// Alloy's names and defaults.
//
//   http {
//     auth {
//       basic { username = "..."  password = "..." }          // both required
//       filter {
//         paths                       = ["/metrics"]          // path prefixes; default []
//         authenticate_matching_paths = false                 // default true
//       }
//     }
//     tls {
//       cert_file / cert_pem               // exactly one of them
//       key_file  / key_pem                // exactly one of them
//       client_ca_file / client_ca_pem     // at most one; only with a client_auth_type that
//                                          // asks for certificates
//       client_auth_type  = "NoClientCert" // Go's names: NoClientCert, RequestClientCert,
//                                          // RequireAnyClientCert, VerifyClientCertIfGiven,
//                                          // RequireAndVerifyClientCert
//       min_version       = ""             // "TLS10".."TLS13"; "" = TLS12
//       max_version       = ""             // "" = TLS13
//       cipher_suites     = []             // Go's names (TLS 1.2 suites); [] = OpenSSL's defaults
//       curve_preferences = []             // CurveP256, CurveP384, CurveP521, X25519
//     }
//   }
//
// Contract: HttpBlockArgs is decoded by the controller like `logging` (at most once, no label) and
// handed to ControllerOptions::on_http_block when a load commits; an absent block hands over the
// defaults (no authentication), so removing the block on a reload removes the access control.
// validate() rejects an empty username or password (an unset environment variable must not leave
// the server open to the empty credential). decodeHttpBlock() also checks the `tls` block without
// touching any file (checkHttpTlsBlock()); every problem is a diagnostic positioned at the
// attribute it concerns. Differences from Alloy: a client_auth_type that verifies certificates
// (VerifyClientCertIfGiven, RequireAndVerifyClientCert) needs a client CA (Go would fall back to
// the system CAs); only HTTP/1.1 is offered over ALPN; windows_certificate_filter is unknown.
// The admin server builds its listener from the block found by peekHttpBlock() before the first
// load (src/admin/admin_tls.h). Immutable once decoded; safe to copy between threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "src/net/tls/tls.h"
#include "src/runtime/schema.h"
#include "src/syntax/position.h"

namespace telegate::runtime {

struct HttpBasicAuthBlock {
  std::string username;
  Secret password;
  static void describe(Schema<HttpBasicAuthBlock>& s);
};

struct HttpAuthFilterBlock {
  std::vector<std::string> paths;
  bool authenticate_matching_paths = true;
  static void describe(Schema<HttpAuthFilterBlock>& s);
};

struct HttpAuthBlock {
  std::optional<HttpBasicAuthBlock> basic;
  // Absent: Alloy's zero value (authenticate_matching_paths = false, paths = []), i.e. every
  // path needs the credential. Present: the defaults above apply to what it leaves out.
  std::optional<HttpAuthFilterBlock> filter;
  static void describe(Schema<HttpAuthBlock>& s);
};

// Alloy's `tls` block of the root `http` block, as written.
struct HttpTlsBlock {
  std::string cert_file;
  Secret cert_pem;
  std::string key_file;
  Secret key_pem;
  std::vector<std::string> cipher_suites;
  std::string client_auth_type = "NoClientCert";
  std::string client_ca_file;
  std::string client_ca_pem;
  std::vector<std::string> curve_preferences;
  std::string max_version;
  std::string min_version;
  static void describe(Schema<HttpTlsBlock>& s);
  bool operator==(const HttpTlsBlock&) const = default;
};

// A problem of a `tls` block: the attribute it concerns ("" = the block itself) and the message.
struct HttpTlsProblem {
  std::string attribute;
  std::string message;
};
// Checks a decoded `tls` block against Alloy's rules and telegate's (see the header comment)
// without reading any file; nullopt when it is usable.
std::optional<HttpTlsProblem> checkHttpTlsBlock(const HttpTlsBlock& b);
// The shared TLS settings of a block checkHttpTlsBlock() accepted (versions mapped to "1.x",
// ALPN {"http/1.1"}).
net::tls::TlsServerSettings toTlsServerSettings(const HttpTlsBlock& b);

struct HttpBlockArgs {
  std::optional<HttpAuthBlock> auth;
  std::optional<HttpTlsBlock> tls;
  static void describe(Schema<HttpBlockArgs>& s);
  absl::Status validate() const;
};

// Decodes a root `http` block (its expressions see only the standard library, like `logging`),
// runs validate(), and warns about a filter that protects nothing. Problems become positioned
// diagnostics; false when an error was added.
bool decodeHttpBlock(const syntax::ast::Block& block, const std::string& file,
                     syntax::Diagnostics* diags, HttpBlockArgs* out);

// The root `http` block of a configuration, found and decoded outside a load (the admin server
// needs its `tls` block before it listens, and compares it on reloads).
struct PeekedHttpBlock {
  HttpBlockArgs args;
  std::string file;         // where the block is
  syntax::Range tls_range;  // the name of its `tls` block (empty when it has none)
};
// Parses `sources` and decodes their root `http` block. An absent block gives the defaults;
// nullopt when the sources or the block have errors (the load reports them). Thread-safe.
std::optional<PeekedHttpBlock> peekHttpBlock(const std::vector<syntax::SourceFilePtr>& sources);

}  // namespace telegate::runtime
