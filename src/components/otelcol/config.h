// Configuration blocks shared by otelcol components, with Alloy's defaults.
//
// Contract: plain Arguments structs (see src/runtime/schema.h) for the `tls`, `client`,
// `sending_queue`, `retry_on_failure`, `keepalive`, `cors` and `output` blocks. Immutable once
// decoded; safe to share.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/components/otelcol/auth/handler.h"
#include "src/components/otelcol/consumer.h"
#include "src/net/tls/tls.h"
#include "src/runtime/schema.h"

namespace telegate::otelcol {

using runtime::ByteSize;
using runtime::CapsuleRef;
using runtime::Duration;
using runtime::Schema;
using runtime::Secret;
using namespace std::chrono_literals;

// Alloy's `tpm` block (a key held by a TPM). Not supported: enabled = true is refused.
struct TpmBlock {
  bool enabled = false;
  std::string path, owner_auth, auth;
  static void describe(Schema<TpmBlock>& s);
  absl::Status validate() const;
  bool operator==(const TpmBlock&) const = default;
};

// The `tls` block of an otelcol server (Alloy's TLSServerArguments), decoded into
// net::tls::TlsServerSettings by toSettings(): a client_ca_file requires and verifies client
// certificates (kRequireAndVerifyClientCert, as in Alloy). ca_file/ca_pem are accepted for
// compatibility and trust nothing on a server, as in Alloy (Go uses them only as a client's
// roots); servers log that once when they are set.
// validate() checks the block without reading files (net::tls::TlsServerSettings::validate());
// its errors are positioned at the `tls` block. Servers with restrictions of their own derive
// from it and reuse describeFields() (see otelcol.receiver.otlp's gRPC block).
struct TlsServerBlock {
  std::string ca_file, ca_pem, cert_file, key_file, cert_pem;
  Secret key_pem;
  std::string client_ca_file;
  std::string min_version, max_version;
  std::vector<std::string> cipher_suites;
  std::vector<std::string> curve_preferences;
  bool include_system_ca_certs_pool = false;
  Duration reload_interval;
  std::optional<TpmBlock> tpm;
  // Descriptions of the attributes whose meaning a server restricts.
  struct Docs {
    std::string min_version = "\"1.0\"..\"1.3\"; unset: 1.2";
    std::string max_version = "unset: 1.3";
    std::string cipher_suites = "TLS 1.2 suites by their IANA names; unset: OpenSSL's defaults";
    std::string curve_preferences = "X25519, CurveP256, CurveP384, CurveP521";
  };
  static void describe(Schema<TlsServerBlock>& s) { describeFields(s, Docs{}); }
  template <class Self>
  static void describeFields(Schema<Self>& s, const Docs& docs);
  absl::Status validate() const;
  net::tls::TlsServerSettings toSettings() const;
  bool operator==(const TlsServerBlock&) const = default;
};

struct TlsClientBlock {
  bool insecure = false;
  bool insecure_skip_verify = false;
  std::string server_name;
  std::string ca_file, ca_pem, cert_file, key_file, cert_pem;
  Secret key_pem;
  std::string min_version, max_version;
  bool include_system_ca_certs_pool = false;
  Duration reload_interval;
  static void describe(Schema<TlsClientBlock>& s);
};

struct KeepaliveServerParams {
  Duration max_connection_idle, max_connection_age, max_connection_age_grace, time, timeout;
  static void describe(Schema<KeepaliveServerParams>& s);
};
struct KeepaliveEnforcementPolicy {
  Duration min_time;
  bool permit_without_stream = false;
  static void describe(Schema<KeepaliveEnforcementPolicy>& s);
};
struct KeepaliveBlock {
  std::optional<KeepaliveServerParams> server_parameters;
  std::optional<KeepaliveEnforcementPolicy> enforcement_policy;
  static void describe(Schema<KeepaliveBlock>& s);
};

struct CorsBlock {
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_headers;
  int64_t max_age = 0;
  static void describe(Schema<CorsBlock>& s);
};

struct OutputBlock {
  std::vector<CapsuleRef<Consumer>> metrics, logs, traces;
  static void describe(Schema<OutputBlock>& s);
};

struct QueueBlock {
  bool enabled = true;
  int64_t num_consumers = 10;
  int64_t queue_size = 1000;
  bool block_on_overflow = false;
  std::string sizer = "requests";
  bool wait_for_result = false;
  // telegate extension: "memory" (Alloy's behaviour) or "disk" (a durable queue in
  // <storage.path>/<component id>/queue, bounded by max_size bytes, synced per fsync:
  // "never" | "interval" | "always"). queue_size does not apply to "disk".
  std::string storage = "memory";
  ByteSize max_size{1ull << 30};
  std::string fsync = "interval";
  static void describe(Schema<QueueBlock>& s);
  absl::Status validate() const;
};

struct RetryBlock {
  bool enabled = true;
  Duration initial_interval{5s};
  double randomization_factor = 0.5;
  double multiplier = 1.5;
  Duration max_interval{30s};
  Duration max_elapsed_time{5min};
  static void describe(Schema<RetryBlock>& s);
  absl::Status validate() const;
};

struct GrpcClientBlock {
  std::string endpoint;
  std::string compression = "gzip";
  TlsClientBlock tls;
  std::map<std::string, std::string> headers;
  ByteSize read_buffer_size;
  ByteSize write_buffer_size{512 * 1024};
  bool wait_for_ready = false;
  std::string balancer_name = "round_robin";
  std::string authority;
  std::optional<CapsuleRef<AuthHandler>> auth;
  static void describe(Schema<GrpcClientBlock>& s);
  absl::Status validate() const;
};

struct HttpClientBlock {
  std::string endpoint;
  std::string compression = "gzip";
  TlsClientBlock tls;
  std::map<std::string, std::string> headers;
  Duration timeout{30s};
  ByteSize read_buffer_size;
  ByteSize write_buffer_size{512 * 1024};
  int64_t max_idle_conns = 100;
  Duration idle_conn_timeout{90s};
  bool disable_keep_alives = false;
  std::optional<CapsuleRef<AuthHandler>> auth;
  static void describe(Schema<HttpClientBlock>& s);
  absl::Status validate() const;
};

// Validates a compression name used by clients: "", "none", "gzip", "zlib", "deflate", "snappy",
// "zstd".
absl::Status validateCompression(const std::string& c);

template <class Self>
void TlsServerBlock::describeFields(Schema<Self>& s, const Docs& docs) {
  // Members of the base as members of Self, so that a derived block shares the attributes.
  auto m = []<class F>(F TlsServerBlock::*member) -> F Self::* { return member; };
  s.attr("ca_file", m(&TlsServerBlock::ca_file)).doc("no effect on a server (as in Alloy)");
  s.attr("ca_pem", m(&TlsServerBlock::ca_pem)).doc("no effect on a server (as in Alloy)");
  s.attr("cert_file", m(&TlsServerBlock::cert_file)).doc("serving certificate chain (PEM)");
  s.attr("cert_pem", m(&TlsServerBlock::cert_pem));
  s.attr("key_file", m(&TlsServerBlock::key_file));
  s.attr("key_pem", m(&TlsServerBlock::key_pem));
  s.attr("client_ca_file", m(&TlsServerBlock::client_ca_file))
      .doc("set: clients must present a certificate signed by these CAs (mutual TLS)");
  s.attr("min_version", m(&TlsServerBlock::min_version)).doc(docs.min_version);
  s.attr("max_version", m(&TlsServerBlock::max_version)).doc(docs.max_version);
  s.attr("cipher_suites", m(&TlsServerBlock::cipher_suites)).doc(docs.cipher_suites);
  s.attr("curve_preferences", m(&TlsServerBlock::curve_preferences)).doc(docs.curve_preferences);
  s.attr("include_system_ca_certs_pool", m(&TlsServerBlock::include_system_ca_certs_pool))
      .doc("also trust the system CAs for client certificates");
  s.attr("reload_interval", m(&TlsServerBlock::reload_interval))
      .doc("reload the files this often too; changed files are picked up within 1s anyway");
  s.block("tpm", m(&TlsServerBlock::tpm)).doc("not supported: enabled = true is refused");
}

}  // namespace telegate::otelcol
