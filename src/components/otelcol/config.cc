#include "src/components/otelcol/config.h"

#include "src/common/strings.h"

namespace telegate::otelcol {

void TpmBlock::describe(Schema<TpmBlock>& s) {
  s.attr("enabled", &TpmBlock::enabled);
  s.attr("path", &TpmBlock::path);
  s.attr("owner_auth", &TpmBlock::owner_auth);
  s.attr("auth", &TpmBlock::auth);
}

absl::Status TpmBlock::validate() const {
  if (enabled) {
    return absl::InvalidArgumentError(
        "tpm: keys held by a TPM are not supported; give the key with key_file or key_pem");
  }
  return absl::OkStatus();
}

absl::Status TlsServerBlock::validate() const {
  if (!ca_file.empty() && !ca_pem.empty()) {
    return absl::InvalidArgumentError("at most one of ca_pem and ca_file must be configured");
  }
  return toSettings().validate();
}

net::tls::TlsServerSettings TlsServerBlock::toSettings() const {
  net::tls::TlsServerSettings t;
  t.cert_file = cert_file;
  t.cert_pem = cert_pem;
  t.key_file = key_file;
  t.key_pem = key_pem.value;
  t.client_ca_file = client_ca_file;
  if (!client_ca_file.empty()) t.client_auth = net::tls::ClientAuth::kRequireAndVerifyClientCert;
  t.include_system_ca_certs_pool = include_system_ca_certs_pool;
  t.min_version = min_version;
  t.max_version = max_version;
  t.cipher_suites = cipher_suites;
  t.curve_preferences = curve_preferences;
  t.reload_interval = reload_interval.millis();
  return t;
}

void TlsClientBlock::describe(Schema<TlsClientBlock>& s) {
  s.attr("insecure", &TlsClientBlock::insecure).doc("plaintext connection (no TLS)");
  s.attr("insecure_skip_verify", &TlsClientBlock::insecure_skip_verify);
  s.attr("server_name", &TlsClientBlock::server_name);
  s.attr("ca_file", &TlsClientBlock::ca_file);
  s.attr("ca_pem", &TlsClientBlock::ca_pem);
  s.attr("cert_file", &TlsClientBlock::cert_file);
  s.attr("cert_pem", &TlsClientBlock::cert_pem);
  s.attr("key_file", &TlsClientBlock::key_file);
  s.attr("key_pem", &TlsClientBlock::key_pem);
  s.attr("min_version", &TlsClientBlock::min_version);
  s.attr("max_version", &TlsClientBlock::max_version);
  s.attr("include_system_ca_certs_pool", &TlsClientBlock::include_system_ca_certs_pool);
  s.attr("reload_interval", &TlsClientBlock::reload_interval);
}

void KeepaliveServerParams::describe(Schema<KeepaliveServerParams>& s) {
  s.attr("max_connection_idle", &KeepaliveServerParams::max_connection_idle);
  s.attr("max_connection_age", &KeepaliveServerParams::max_connection_age);
  s.attr("max_connection_age_grace", &KeepaliveServerParams::max_connection_age_grace);
  s.attr("time", &KeepaliveServerParams::time);
  s.attr("timeout", &KeepaliveServerParams::timeout);
}

void KeepaliveEnforcementPolicy::describe(Schema<KeepaliveEnforcementPolicy>& s) {
  s.attr("min_time", &KeepaliveEnforcementPolicy::min_time);
  s.attr("permit_without_stream", &KeepaliveEnforcementPolicy::permit_without_stream);
}

void KeepaliveBlock::describe(Schema<KeepaliveBlock>& s) {
  s.block("server_parameters", &KeepaliveBlock::server_parameters);
  s.block("enforcement_policy", &KeepaliveBlock::enforcement_policy);
}

void CorsBlock::describe(Schema<CorsBlock>& s) {
  s.attr("allowed_origins", &CorsBlock::allowed_origins);
  s.attr("allowed_headers", &CorsBlock::allowed_headers);
  s.attr("max_age", &CorsBlock::max_age);
}

void OutputBlock::describe(Schema<OutputBlock>& s) {
  s.attr("metrics", &OutputBlock::metrics);
  s.attr("logs", &OutputBlock::logs);
  s.attr("traces", &OutputBlock::traces);
}

void QueueBlock::describe(Schema<QueueBlock>& s) {
  s.attr("enabled", &QueueBlock::enabled);
  s.attr("num_consumers", &QueueBlock::num_consumers);
  s.attr("queue_size", &QueueBlock::queue_size);
  s.attr("block_on_overflow", &QueueBlock::block_on_overflow);
  s.attr("sizer", &QueueBlock::sizer);
  s.attr("wait_for_result", &QueueBlock::wait_for_result);
  s.attr("storage", &QueueBlock::storage)
      .doc("telegate extension: memory (default) or disk (durable, survives restarts)");
  s.attr("max_size", &QueueBlock::max_size).doc("storage = disk: bound in bytes on disk");
  s.attr("fsync", &QueueBlock::fsync).doc("storage = disk: never, interval (default) or always");
}

absl::Status QueueBlock::validate() const {
  if (enabled && num_consumers <= 0) {
    return absl::InvalidArgumentError("num_consumers must be greater than 0");
  }
  if (enabled && queue_size <= 0) {
    return absl::InvalidArgumentError("queue_size must be greater than 0");
  }
  if (sizer != "requests" && sizer != "items" && sizer != "bytes") {
    return absl::InvalidArgumentError(
        strCat("sizer must be one of requests, items, bytes; got \"", sizer, "\""));
  }
  if (storage != "memory" && storage != "disk") {
    return absl::InvalidArgumentError(
        strCat("storage must be \"memory\" or \"disk\", got \"", storage, "\""));
  }
  if (fsync != "never" && fsync != "interval" && fsync != "always") {
    return absl::InvalidArgumentError(
        strCat("fsync must be one of never, interval, always; got \"", fsync, "\""));
  }
  if (storage == "disk" && max_size.bytes < (16u << 10)) {
    return absl::InvalidArgumentError("max_size must be at least 16KiB with storage = \"disk\"");
  }
  return absl::OkStatus();
}

void RetryBlock::describe(Schema<RetryBlock>& s) {
  s.attr("enabled", &RetryBlock::enabled);
  s.attr("initial_interval", &RetryBlock::initial_interval);
  s.attr("randomization_factor", &RetryBlock::randomization_factor);
  s.attr("multiplier", &RetryBlock::multiplier);
  s.attr("max_interval", &RetryBlock::max_interval);
  s.attr("max_elapsed_time", &RetryBlock::max_elapsed_time);
}

absl::Status RetryBlock::validate() const {
  if (randomization_factor < 0 || randomization_factor > 1) {
    return absl::InvalidArgumentError("randomization_factor must be between 0 and 1");
  }
  if (multiplier < 1) return absl::InvalidArgumentError("multiplier must be at least 1");
  return absl::OkStatus();
}

absl::Status validateCompression(const std::string& c) {
  static const char* kKnown[] = {"", "none", "gzip", "zlib", "deflate", "snappy", "zstd"};
  for (const char* k : kKnown) {
    if (c == k) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(strCat("unsupported compression \"", c, "\""));
}

void GrpcClientBlock::describe(Schema<GrpcClientBlock>& s) {
  s.attr("endpoint", &GrpcClientBlock::endpoint).required().doc("host:port of the gRPC server");
  s.attr("compression", &GrpcClientBlock::compression);
  s.block("tls", &GrpcClientBlock::tls);
  s.attr("headers", &GrpcClientBlock::headers);
  s.attr("read_buffer_size", &GrpcClientBlock::read_buffer_size);
  s.attr("write_buffer_size", &GrpcClientBlock::write_buffer_size);
  s.attr("wait_for_ready", &GrpcClientBlock::wait_for_ready);
  s.attr("balancer_name", &GrpcClientBlock::balancer_name);
  s.attr("authority", &GrpcClientBlock::authority);
  s.attr("auth", &GrpcClientBlock::auth);
}

absl::Status GrpcClientBlock::validate() const {
  if (endpoint.empty()) return absl::InvalidArgumentError("endpoint must not be empty");
  return validateCompression(compression);
}

void HttpClientBlock::describe(Schema<HttpClientBlock>& s) {
  s.attr("endpoint", &HttpClientBlock::endpoint).required().doc("base URL");
  s.attr("compression", &HttpClientBlock::compression);
  s.block("tls", &HttpClientBlock::tls);
  s.attr("headers", &HttpClientBlock::headers);
  s.attr("timeout", &HttpClientBlock::timeout);
  s.attr("read_buffer_size", &HttpClientBlock::read_buffer_size);
  s.attr("write_buffer_size", &HttpClientBlock::write_buffer_size);
  s.attr("max_idle_conns", &HttpClientBlock::max_idle_conns);
  s.attr("idle_conn_timeout", &HttpClientBlock::idle_conn_timeout);
  s.attr("disable_keep_alives", &HttpClientBlock::disable_keep_alives);
  s.attr("auth", &HttpClientBlock::auth);
}

absl::Status HttpClientBlock::validate() const {
  if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0) {
    return absl::InvalidArgumentError(
        strCat("endpoint must be an http:// or https:// URL, got \"", endpoint, "\""));
  }
  return validateCompression(compression);
}

}  // namespace telegate::otelcol
