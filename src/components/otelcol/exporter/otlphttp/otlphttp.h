// otelcol.exporter.otlphttp: sends OTLP over HTTP (to Mimir's OTLP endpoint in the seed).
//
// Contract:
//  * Arguments follow Alloy's schema and defaults. The component exports `input`
//    (otelcol.Consumer): an exporterhelper::Exporter whose Sender is an HttpSender; the per-attempt
//    timeout is client.timeout.
//  * URL per signal (OTel composeSignalURL, kept exactly so configs behave as in Alloy):
//    `<signal>_endpoint` verbatim when set, else client.endpoint + "/v1/<signal>" without a double
//    slash; the endpoint's own path is kept (http://mimir:8080/otlp -> .../otlp/v1/metrics).
//  * Request: POST; body = the Batch's protobuf bytes (application/x-protobuf) or, with
//    encoding = "json", pdata::toOtlpJson (application/json); compressed with client.compression
//    (gzip by default, Content-Encoding set; none/"" sends it as is); configured headers, plus
//    X-Scope-OrgID from the batch's tenant unless configured. An uncompressed protobuf body is
//    the payload itself, lent to the request and handed back afterwards (no copy).
//  * Response (OTel otlphttpexporter): 2xx -> delivered; with Content-Type exactly
//    application/x-protobuf the body is parsed as Export*ServiceResponse and partial_success
//    rejected items are reported (an unparsable body -> permanent error). 429, 502, 503, 504 ->
//    retryable, Retry-After (seconds or HTTP date) honoured on 429/503. Every other status ->
//    permanent (the message comes from a google.rpc.Status body when there is one). Transport
//    errors -> retryable. A 404 from a URL derived from an endpoint without a path is logged (at
//    most once per minute) with the fix: Mimir serves OTLP under /otlp, so the endpoint should
//    be "<endpoint>/otlp". start() warns the same when the endpoint has no path and its host name
//    contains "mimir".
//  * TLS (https:// URLs): client.tls through TlsClientBlock::settings() into net::HttpClient: CA,
//    client certificate and key (file or PEM), insecure_skip_verify, server_name, min/max
//    version, cipher_suites, include_system_ca_certs_pool; rotated files are used by the next new
//    connection. `insecure` has no effect here (the URL's scheme decides), as in Alloy.
// Thread-safety: HttpSender::send() is called concurrently (net::HttpClient pools connections).
#pragma once

#include <array>
#include <memory>
#include <string>

#include "src/common/log.h"
#include "src/components/otelcol/config.h"
#include "src/components/otelcol/exporterhelper/exporter.h"
#include "src/net/http_client.h"
#include "src/runtime/component.h"

namespace telegate::otelcol::exporter_otlphttp {

struct Arguments {
  HttpClientBlock client;
  std::string traces_endpoint, metrics_endpoint, logs_endpoint;
  std::string encoding = "proto";
  QueueBlock sending_queue;
  RetryBlock retry_on_failure;
  static void describe(Schema<Arguments>& s);
  absl::Status validate() const;
};

// The URL data of `signal` is posted to.
std::string signalUrl(const Arguments& args, pdata::Signal signal);
// True when an http(s) URL has no path beyond "/".
bool urlHasNoPath(const std::string& url);

class HttpSender final : public exporterhelper::Sender {
 public:
  HttpSender(const Arguments& args, log::Logger logger);
  exporterhelper::SendResult send(pdata::Batch& batch,
                                  std::chrono::steady_clock::time_point deadline) override;

 private:
  const HttpClientBlock client_cfg_;
  const bool json_;
  const log::Logger logger_;
  std::array<std::string, 3> urls_;
  std::array<bool, 3> derived_without_path_{};
  net::HttpClient client_;
  log::OnceEvery not_found_log_{std::chrono::minutes(1)};
};

class Component final : public runtime::TypedComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments& args);
  ~Component() override;
  absl::Status start() override;
  absl::Status update(const Arguments& args) override;
  void shutdown(std::chrono::steady_clock::time_point deadline) override;
  syntax::Value debugInfo() const override { return exporter_->debugInfo(); }

 private:
  static exporterhelper::Settings settingsOf(const Arguments& args);
  void warnAboutEndpoint(const Arguments& args) const;
  runtime::Host& host_;
  Arguments args_;  // the last arguments (controller thread only)
  std::shared_ptr<exporterhelper::Exporter> exporter_;
};

}  // namespace telegate::otelcol::exporter_otlphttp
