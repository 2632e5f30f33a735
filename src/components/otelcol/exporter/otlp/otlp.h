// otelcol.exporter.otlp: sends OTLP over gRPC (to Tempo in the seed).
//
// Contract:
//  * Arguments follow Alloy's schema and defaults (timeout 5s per RPC, client, sending_queue,
//    retry_on_failure). The component exports `input` (otelcol.Consumer): an
//    exporterhelper::Exporter whose Sender is a GrpcSender.
//  * GrpcSender sends the Batch's wire bytes unchanged as the request message of
//    /opentelemetry.proto.collector.<signal>.v1.<Trace|Metrics|Logs>Service/Export through a
//    grpc::GenericStub. Endpoint: a leading "http://" is stripped and means plaintext, "https://"
//    is stripped; `tls { insecure = true }` means plaintext; otherwise TLS
//    (grpc::experimental::TlsCredentials) with the system roots or ca_file/ca_pem (plus the
//    system roots with include_system_ca_certs_pool), a client certificate from cert_file/key_file
//    or the PEM values, insecure_skip_verify (no chain or name check), server_name (SNI and the
//    name verified). gRPC offers TLS 1.2 and 1.3 with its own ciphers (GrpcClientBlock::validate
//    refuses settings it cannot honour). Rotation: the CA, certificate and key files are checked
//    at most once a second before a send; when they changed, a new channel is built from them
//    (new connections present the new certificate; calls in flight finish on the old channel).
//    New material that does not load (unreadable, a key that does not match its certificate)
//    keeps the previous channel, logged once per change; with no previous channel the send fails
//    as retryable.
//    Compression: gzip (default) and deflate/zlib per call; none/"" off; zstd and snappy are not
//    implemented by gRPC 1.51 and fall back to gzip (warned once). Configured headers become
//    metadata (lower-cased), plus x-scope-orgid from the batch's tenant unless configured.
//    balancer_name (round_robin) and authority are channel arguments; wait_for_ready per call.
//    The channel is created on the first send (building the component has no side effects).
//    The request message is the payload itself: send() moves batch.payload into a gRPC slice that
//    owns it (freed when gRPC drops its last reference), so the bytes are not copied. After a
//    retryable failure the payload is copied back into the batch for the next attempt.
//  * Status handling (OTel otlpexporter): OK -> delivered; the response's partial_success
//    rejected count is reported as rejected items. CANCELLED, DEADLINE_EXCEEDED, ABORTED,
//    OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS -> retryable; RESOURCE_EXHAUSTED retryable only when the
//    status details carry a google.rpc.RetryInfo; a RetryInfo delay is the throttle delay. Every
//    other code is permanent.
// Thread-safety: GrpcSender::send() is called concurrently by the exporter's sender threads.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "src/common/log.h"
#include "src/components/otelcol/config.h"
#include "src/components/otelcol/exporterhelper/exporter.h"
#include "src/net/client_tls.h"
#include "src/runtime/component.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace telegate::otelcol::exporter_otlp {

struct Arguments {
  Duration timeout{5s};
  GrpcClientBlock client;
  QueueBlock sending_queue;
  RetryBlock retry_on_failure;
  static void describe(Schema<Arguments>& s);
};

// "host:port" (scheme stripped) and whether to use plaintext.
struct GrpcTarget {
  std::string target;
  bool plaintext = false;
};
GrpcTarget parseGrpcEndpoint(const GrpcClientBlock& client);

class GrpcSender final : public exporterhelper::Sender {
 public:
  // `tls_files_check_period`: how often the TLS files are checked for changes (tests: 0).
  GrpcSender(GrpcClientBlock client, log::Logger logger,
             std::chrono::milliseconds tls_files_check_period = std::chrono::seconds(1));
  ~GrpcSender() override;
  exporterhelper::SendResult send(pdata::Batch& batch,
                                  std::chrono::steady_clock::time_point deadline) override;

 private:
  // The channel for the current TLS files (building it when needed).
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel();

  const GrpcClientBlock client_;
  const log::Logger logger_;
  int compression_ = 0;  // grpc_compression_algorithm
  net::TlsFileWatch files_;
  std::mutex mu_;  // guards the channel and its generation
  std::shared_ptr<grpc::Channel> channel_;
  uint64_t channel_generation_ = 0;
  uint64_t failed_generation_ = UINT64_MAX;  // last generation whose files did not load
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
  runtime::Host& host_;
  std::shared_ptr<exporterhelper::Exporter> exporter_;
};

}  // namespace telegate::otelcol::exporter_otlp
