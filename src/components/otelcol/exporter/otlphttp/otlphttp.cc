// otelcol.exporter.otlphttp: sends OTLP over HTTP (to Mimir's OTLP endpoint in the seed).
// Arguments follow Alloy's schema and defaults; in this build it validates its configuration,
// exports `input` and reports itself unhealthy (the HTTP client arrives with the exporter work).
#include "src/common/strings.h"
#include "src/components/all.h"
#include "src/components/common/pending.h"
#include "src/components/otelcol/config.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_otlphttp {

struct Arguments {
  HttpClientBlock client;
  std::string traces_endpoint, metrics_endpoint, logs_endpoint;
  std::string encoding = "proto";
  QueueBlock sending_queue;
  RetryBlock retry_on_failure;
  static void describe(Schema<Arguments>& s) {
    s.block("client", &Arguments::client).required();
    s.attr("traces_endpoint", &Arguments::traces_endpoint).doc("full URL; default endpoint + /v1/traces");
    s.attr("metrics_endpoint", &Arguments::metrics_endpoint).doc("full URL; default endpoint + /v1/metrics");
    s.attr("logs_endpoint", &Arguments::logs_endpoint).doc("full URL; default endpoint + /v1/logs");
    s.attr("encoding", &Arguments::encoding).doc("proto or json");
    s.block("sending_queue", &Arguments::sending_queue);
    s.block("retry_on_failure", &Arguments::retry_on_failure);
  }
  absl::Status validate() const {
    if (encoding != "proto" && encoding != "json") {
      return absl::InvalidArgumentError(
          strCat("encoding must be \"proto\" or \"json\", got \"", encoding, "\""));
    }
    return absl::OkStatus();
  }
};

class Component : public components::PendingComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments&)
      : PendingComponent(host,
                         "otelcol.exporter.otlphttp: the OTLP/HTTP client is not part of this "
                         "build; data sent to its input is refused with UNAVAILABLE") {
    host.setExports({{"input", syntax::Value::capsule(std::make_shared<components::RefusingConsumer>(
                                   host.id() + ".input"))}});
  }
};

}  // namespace telegate::otelcol::exporter_otlphttp

namespace telegate::components {
void registerOtelcolExporterOtlphttp() {
  runtime::registerComponent<otelcol::exporter_otlphttp::Component>(
      "otelcol.exporter.otlphttp", "Sends OTLP over HTTP.",
      {{"input", "capsule(otelcol.Consumer)", "where to send data to be exported"}});
}
}  // namespace telegate::components
