// otelcol.receiver.otlp: accepts OTLP over gRPC and HTTP and hands batches to `output`.
//
// Contract: Arguments follow Alloy's schema and defaults (grpc and http blocks are optional; a
// server runs for each block present). Requests are authenticated with the block's `auth`
// handler, validated (pdata::checkAndCount) and handed synchronously to every consumer listed in
// `output` for the signal; the client's answer reflects what the consumers said (see
// dispatch.h). A reload that keeps a server's listening options swaps outputs and auth in place
// without dropping connections; a changed endpoint restarts that server.
// telegate extension: http.path_prefixes (default ["/observability"]) also accepts
// <prefix><path> so an ingress that does not strip its prefix reaches the receiver.
// telegate extensions of the http block protect the server from hostile clients:
// read_header_timeout (10s), read_timeout (60s, header + body), idle_timeout (60s),
// min_receive_rate (1KiB per second after 5 s), max_connections (4096),
// max_connections_per_client (1024, 0 = none); see net/http_server.h.
// TLS: a `tls` block in `http` or `grpc` serves TLS from its certificate and key, rotated without
// restart when the files change (net/tls/tls.h; gRPC: grpc_tls.h); client_ca_file requires
// verified client certificates (mutual TLS), whose identity reaches the `auth` handler
// (AuthRequest::peer). The certificates are loaded by start(), and by update() before a changed
// server is restarted: a certificate that does not load fails start()/update() with the file and
// the reason, and an update that fails so leaves the running servers as they were. The HTTP
// server offers ALPN http/1.1; the gRPC server refuses min_version/max_version other than
// 1.2/1.3, cipher_suites and curve_preferences (gRPC 1.51 has no such settings).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/components/otelcol/config.h"
#include "src/runtime/component.h"

namespace telegate::otelcol::receiver_otlp {

// The gRPC server's `tls` block: the otelcol server block, restricted to what gRPC 1.51 can
// serve (TLS 1.2-1.3 with gRPC's own cipher suites and curves; see grpc_tls.h). A refusal is a
// diagnostic at the block saying why.
struct GrpcTlsServerBlock : TlsServerBlock {
  static void describe(Schema<GrpcTlsServerBlock>& s);
  absl::Status validate() const;
};

struct GrpcServerBlock {
  std::string endpoint = "0.0.0.0:4317";
  std::string transport = "tcp";
  std::optional<GrpcTlsServerBlock> tls;
  ByteSize max_recv_msg_size;            // 0: 4 MiB
  int64_t max_concurrent_streams = 100;  // telegate default (Alloy: 0, unlimited)
  ByteSize read_buffer_size{512 * 1024};
  ByteSize write_buffer_size;
  std::optional<KeepaliveBlock> keepalive;
  bool include_metadata = false;
  std::optional<CapsuleRef<AuthHandler>> auth;
  static void describe(Schema<GrpcServerBlock>& s);
  absl::Status validate() const;
};

struct HttpServerBlock {
  std::string endpoint = "0.0.0.0:4318";
  std::string traces_url_path = "/v1/traces";
  std::string metrics_url_path = "/v1/metrics";
  std::string logs_url_path = "/v1/logs";
  ByteSize max_request_body_size;  // 0: 20 MiB
  std::vector<std::string> compression_algorithms = {"",     "gzip",   "zstd",
                                                     "zlib", "snappy", "deflate"};
  std::vector<std::string> path_prefixes = {"/observability"};
  bool include_metadata = false;
  std::optional<TlsServerBlock> tls;
  std::optional<CorsBlock> cors;
  std::optional<CapsuleRef<AuthHandler>> auth;
  // telegate extensions: connection protection (see net/http_server.h).
  Duration read_header_timeout{std::chrono::seconds(10)};
  Duration read_timeout{std::chrono::seconds(60)};
  Duration idle_timeout{std::chrono::seconds(60)};
  ByteSize min_receive_rate{1024};  // per second
  int64_t max_connections = 4096;
  int64_t max_connections_per_client = 1024;
  static void describe(Schema<HttpServerBlock>& s);
  absl::Status validate() const;
};

struct DebugMetricsBlock {
  bool disable_high_cardinality_metrics = true;
  static void describe(Schema<DebugMetricsBlock>& s);
};

struct Arguments {
  std::optional<GrpcServerBlock> grpc;
  std::optional<HttpServerBlock> http;
  OutputBlock output;
  DebugMetricsBlock debug_metrics;
  static void describe(Schema<Arguments>& s);
};

}  // namespace telegate::otelcol::receiver_otlp
