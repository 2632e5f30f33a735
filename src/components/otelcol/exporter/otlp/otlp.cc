// otelcol.exporter.otlp: sends OTLP over gRPC (to Tempo in the seed). Arguments follow Alloy's
// schema and defaults; in this build it validates its configuration, exports `input` and reports
// itself unhealthy (the gRPC client arrives with the exporter work).
#include "src/components/all.h"
#include "src/components/common/pending.h"
#include "src/components/otelcol/config.h"
#include "src/runtime/registry.h"

namespace telegate::otelcol::exporter_otlp {

struct Arguments {
  Duration timeout{5s};
  GrpcClientBlock client;
  QueueBlock sending_queue;
  RetryBlock retry_on_failure;
  static void describe(Schema<Arguments>& s) {
    s.attr("timeout", &Arguments::timeout).doc("deadline of one export RPC");
    s.block("client", &Arguments::client).required();
    s.block("sending_queue", &Arguments::sending_queue);
    s.block("retry_on_failure", &Arguments::retry_on_failure);
  }
};

class Component : public components::PendingComponent<Arguments> {
 public:
  Component(runtime::Host& host, const Arguments&)
      : PendingComponent(host,
                         "otelcol.exporter.otlp: the OTLP/gRPC client is not part of this build; "
                         "data sent to its input is refused with UNAVAILABLE") {
    host.setExports({{"input", syntax::Value::capsule(std::make_shared<components::RefusingConsumer>(
                                   host.id() + ".input"))}});
  }
};

}  // namespace telegate::otelcol::exporter_otlp

namespace telegate::components {
void registerOtelcolExporterOtlp() {
  runtime::registerComponent<otelcol::exporter_otlp::Component>(
      "otelcol.exporter.otlp", "Sends OTLP over gRPC.",
      {{"input", "capsule(otelcol.Consumer)", "where to send data to be exported"}});
}
}  // namespace telegate::components
