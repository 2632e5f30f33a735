#include "src/components/otelcol/receiver/otlp/otlp.h"

#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/pending.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::receiver_otlp {

void GrpcServerBlock::describe(Schema<GrpcServerBlock>& s) {
  s.attr("endpoint", &GrpcServerBlock::endpoint).doc("host:port to listen on");
  s.attr("transport", &GrpcServerBlock::transport);
  s.block("tls", &GrpcServerBlock::tls);
  s.attr("max_recv_msg_size", &GrpcServerBlock::max_recv_msg_size).doc("0 means 4MiB");
  s.attr("max_concurrent_streams", &GrpcServerBlock::max_concurrent_streams);
  s.attr("read_buffer_size", &GrpcServerBlock::read_buffer_size);
  s.attr("write_buffer_size", &GrpcServerBlock::write_buffer_size);
  s.block("keepalive", &GrpcServerBlock::keepalive);
  s.attr("include_metadata", &GrpcServerBlock::include_metadata);
  s.attr("auth", &GrpcServerBlock::auth).doc("an otelcol.auth.* handler");
}

absl::Status GrpcServerBlock::validate() const {
  if (transport != "tcp") {
    return absl::InvalidArgumentError(strCat("unsupported transport \"", transport, "\""));
  }
  if (endpoint.empty()) return absl::InvalidArgumentError("endpoint must not be empty");
  return absl::OkStatus();
}

void HttpServerBlock::describe(Schema<HttpServerBlock>& s) {
  s.attr("endpoint", &HttpServerBlock::endpoint).doc("host:port to listen on");
  s.attr("traces_url_path", &HttpServerBlock::traces_url_path);
  s.attr("metrics_url_path", &HttpServerBlock::metrics_url_path);
  s.attr("logs_url_path", &HttpServerBlock::logs_url_path);
  s.attr("max_request_body_size", &HttpServerBlock::max_request_body_size).doc("0 means 20MiB");
  s.attr("compression_algorithms", &HttpServerBlock::compression_algorithms);
  s.attr("include_metadata", &HttpServerBlock::include_metadata);
  s.block("tls", &HttpServerBlock::tls);
  s.block("cors", &HttpServerBlock::cors);
  s.attr("auth", &HttpServerBlock::auth).doc("an otelcol.auth.* handler");
}

absl::Status HttpServerBlock::validate() const {
  for (const auto* p : {&traces_url_path, &metrics_url_path, &logs_url_path}) {
    if (p->empty() || (*p)[0] != '/') {
      return absl::InvalidArgumentError(
          strCat("URL paths must start with \"/\", got \"", *p, "\""));
    }
  }
  if (endpoint.empty()) return absl::InvalidArgumentError("endpoint must not be empty");
  return absl::OkStatus();
}

void DebugMetricsBlock::describe(Schema<DebugMetricsBlock>& s) {
  s.attr("disable_high_cardinality_metrics",
         &DebugMetricsBlock::disable_high_cardinality_metrics);
}

void Arguments::describe(Schema<Arguments>& s) {
  s.block("grpc", &Arguments::grpc).doc("serve OTLP/gRPC");
  s.block("http", &Arguments::http).doc("serve OTLP/HTTP");
  s.block("output", &Arguments::output).required();
  s.block("debug_metrics", &Arguments::debug_metrics);
}

class Component : public components::PendingComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments&)
      : PendingComponent(host,
                         "otelcol.receiver.otlp: the OTLP listeners are not part of this build; "
                         "configuration accepted, no data is received") {}
};

}  // namespace telegate::otelcol::receiver_otlp

namespace telegate::components {
void registerOtelcolReceiverOtlp() {
  runtime::registerComponent<otelcol::receiver_otlp::Component>(
      "otelcol.receiver.otlp", "Receives OTLP logs, metrics and traces over gRPC and HTTP.", {});
}
}  // namespace telegate::components
