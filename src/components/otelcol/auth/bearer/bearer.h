// otelcol.auth.bearer: checks `Authorization: Bearer <token>` on receivers.
//
// Contract: exports `handler` (capsule otelcol.Handler). Alloy's arguments (token, scheme, header)
// behave as in Alloy, except that nothing is echoed back and an empty token is a configuration
// error (fail closed). telegate extensions, all in this component:
//   - `credential` blocks: several valid credentials at once (rotation), each a `token` or its
//     `sha256` digest (hex), with an optional `tenant` carried with the data (exporters send it as
//     X-Scope-OrgID) and a `name` used in metrics;
//   - `token_file`: credentials read from a file (e.g. a mounted Kubernetes Secret), re-read every
//     `token_file_refresh_interval`, at most kMaxTokenFileBytes (64 KiB). While the file is
//     missing its credentials are absent (requests fail closed). A file that cannot be read whole
//     (read error, a directory, larger than the cap) is never used in part: at the first read
//     its credentials are absent, later the credentials last read from it stay in force. Either
//     way the component is unhealthy with the reason, which is logged once per change.
// The scheme is matched case-insensitively and may be followed by one or more spaces (RFC 7235
// `auth-scheme 1*SP token68`); trailing spaces and tabs of the value are ignored.
// Matching hashes the presented token with SHA-256 and compares it with every known digest using
// CRYPTO_memcmp, without stopping at the first match, so timing does not reveal which credential
// or how much of it matched. The token never appears in logs, metrics or the admin API.
// update() and file reloads swap the credential set atomically; the exported handler object is
// the same across reloads.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/metrics.h"
#include "src/components/otelcol/auth/handler.h"
#include "src/runtime/component.h"

namespace telegate::otelcol::bearer {

struct CredentialBlock {
  runtime::Secret token;
  std::string sha256;
  std::string tenant;
  std::string name;
  static void describe(runtime::Schema<CredentialBlock>& s);
  absl::Status validate() const;
};

struct Arguments {
  runtime::Secret token;
  std::string scheme = "Bearer";
  std::string header = "Authorization";
  std::string tenant;
  std::vector<CredentialBlock> credential;
  std::string token_file;
  runtime::Duration token_file_refresh_interval{std::chrono::seconds(1)};
  static void describe(runtime::Schema<Arguments>& s);
  absl::Status validate() const;
};

using Digest = std::array<unsigned char, 32>;
Digest sha256(std::string_view s);

struct Credential {
  Digest digest{};
  std::shared_ptr<const pdata::ClientInfo> client;
};

// Parses a token file: one credential per line, `<token>` or `sha256:<hex>`, optionally followed
// by `tenant=<t>` and `name=<n>`; blank lines and lines starting with # are ignored. Lines that
// cannot be parsed are skipped and reported in *errors.
std::vector<Credential> parseTokenFile(std::string_view text, std::vector<std::string>* errors);

inline constexpr size_t kMaxTokenFileBytes = 64 << 10;

// Reads a whole token file of at most max_bytes. NotFound when it does not exist;
// ResourceExhausted when it is larger; Unavailable for any other failure (a directory, a read
// error). Messages name the file, never its contents.
absl::StatusOr<std::string> readTokenFile(const std::string& path, size_t max_bytes);

class BearerHandler : public AuthHandler {
 public:
  BearerHandler(std::string component_id, metrics::Registry& metrics);
  void set(std::string header, std::string scheme, std::vector<Credential> creds);
  AuthResult authenticate(const HeaderLookup& header) const override;
  std::string describe() const override { return id_ + ".handler"; }
  size_t credentialCount() const;

 private:
  struct State {
    std::string header_lower;
    std::string scheme;
    std::vector<Credential> creds;
  };
  std::string id_;
  std::atomic<std::shared_ptr<const State>> state_;
  metrics::Counter* fail_missing_;
  metrics::Counter* fail_scheme_;
  metrics::Counter* fail_token_;
  metrics::Counter* fail_none_;
  metrics::Family<metrics::Counter>* ok_;
};

class Component : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args);
  ~Component() override;
  absl::Status start() override;
  absl::Status update(const Arguments& args) override;
  void shutdown(std::chrono::steady_clock::time_point deadline) override;

 private:
  void apply();  // rebuilds the credential set from args_ and the last good file contents
  void watchLoop();
  bool readFile();  // true when the file contents or its error changed

  runtime::Host& host_;
  std::shared_ptr<BearerHandler> handler_;
  std::mutex mu_;
  Arguments args_;
  std::string file_text_;     // last contents read whole
  bool file_loaded_ = false;  // file_text_ holds contents of args_.token_file
  std::string file_error_;    // why the last read failed; "" when it succeeded
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread watcher_;
};

}  // namespace telegate::otelcol::bearer
