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
//     tls { ... }   // Alloy's attribute names are recognised; telegate refuses the block
//   }
//
// Contract: HttpBlockArgs is decoded by the controller like `logging` (at most once, no label) and
// handed to ControllerOptions::on_http_block when a load commits; an absent block hands over the
// defaults (no authentication), so removing the block on a reload removes the access control.
// validate() rejects a `tls` block (telegate's admin server speaks plain HTTP; terminate TLS in
// front of it) and an empty username or password (an unset environment variable must not leave
// the server open to the empty credential). Immutable once decoded; safe to copy between threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "src/runtime/schema.h"

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

// Alloy's `tls` attributes, accepted only so that validate() can refuse the block by name.
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
};

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

}  // namespace telegate::runtime
